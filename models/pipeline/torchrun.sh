#!/bin/sh
# torchrun for Debian's torch 1.13 on Python 3.11: its --redirects/--tee parser maps "0" to None
# (3.11 no longer iterates the zero IntFlag member), so pass a mapping for a rank that does not exist.
exec /usr/bin/python3 -m torch.distributed.run --redirects 9:0 --tee 9:0 "$@"
