# Variants of a shipped QDQ int8 encoder for the WASM-vs-native study (bench/wasm-gap/run.ts):
#   first-conv-fp32: the first convolution (1 input channel) runs in float; its input is not quantized.
# Run: /usr/bin/python3 bench/wasm-gap/variants.py models/fmnist-cnn-vicreg-int8.onnx OUT_DIR
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

src, out_dir = sys.argv[1], sys.argv[2]
os.makedirs(out_dir, exist_ok=True)
m = onnx.load(src)
g = m.graph
init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
convs = [n for n in g.node if n.op_type == 'Conv']
first = convs[0]
x_dq, w_dq, b_dq = first.input
producer = {o: n for n in g.node for o in n.output}
w_node, b_node, x_node = producer[w_dq], producer[b_dq], producer[x_dq]
x_q = producer[x_node.input[0]]


def deq(node):
    q = init[node.input[0]].astype(np.float32)
    s = init[node.input[1]].astype(np.float32)
    z = init[node.input[2]].astype(np.float32)
    shape = [-1] + [1] * (q.ndim - 1) if s.ndim == 1 and q.ndim > 1 else s.shape
    return ((q - z.reshape(shape)) * s.reshape(shape)).astype(np.float32)


w = deq(w_node)
b = deq(b_node)
first.input[0] = x_q.input[0]
first.input[1] = 'first_conv_weight_f32'
first.input[2] = 'first_conv_bias_f32'
drop = {w_node.name, b_node.name, x_node.name, x_q.name}
nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in g.node if n.name not in drop]
del g.node[:]
g.node.extend(nodes)
used = {i for n in g.node for i in n.input}
keep = [onnx.TensorProto.FromString(t.SerializeToString()) for t in g.initializer if t.name in used]
del g.initializer[:]
g.initializer.extend(keep)
g.initializer.extend([numpy_helper.from_array(w, 'first_conv_weight_f32'), numpy_helper.from_array(b, 'first_conv_bias_f32')])
onnx.checker.check_model(m)
onnx.save(m, f'{out_dir}/first-conv-fp32.onnx')
print('wrote', f'{out_dir}/first-conv-fp32.onnx')
