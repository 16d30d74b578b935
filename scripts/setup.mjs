// One-time set-up run by `npm test` and `npm start`: npm dependencies, and Debian's Chromium and Python/PyTorch when missing (as root).
// Plain JavaScript with no dependencies: it runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (m) => process.stdout.write(`[setup] ${m}\n`);
const ci = /^(1|true|yes)$/i.test(process.env.CI ?? '');

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

// npm dependencies: install when node_modules is missing or older than the lock file.
const marker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(join(root, 'package-lock.json')).mtimeMs) {
  log('installing npm dependencies (npm ci)');
  // onnxruntime-node (benchmark baseline only) must not try to download GPU binaries.
  run('npm', ['ci', '--no-audit', '--no-fund'], { ONNXRUNTIME_NODE_INSTALL: 'skip' });
}

// Debian packages: Chromium for the browser tests; PyTorch/ONNX/Fashion-MNIST for the model pipeline.
const wanted = [
  ['/usr/bin/chromium', 'chromium'],
  ['/usr/lib/python3/dist-packages/torch', 'python3-torch'],
  ['/usr/lib/python3/dist-packages/torchvision', 'python3-torchvision'],
  ['/usr/lib/python3/dist-packages/onnx', 'python3-onnx'],
  ['/usr/lib/python3/dist-packages/flatbuffers', 'python3-flatbuffers'],
  ['/usr/share/datasets/fashion-mnist', 'dataset-fashion-mnist'],
  // RGB camera encoder: pretraining images (openclipart objects, MATE/GNOME wallpapers) and the
  // disjoint camera benchmark's (Tux Paint stamps, UKUI/Lomiri wallpapers, scikit-image photos).
  ['/usr/lib/python3/dist-packages/PIL', 'python3-pil'],
  ['/usr/share/openclipart/png', 'openclipart-png'],
  ['/usr/share/backgrounds/mate', 'mate-backgrounds'],
  ['/usr/share/backgrounds/gnome', 'gnome-backgrounds'],
  ['/usr/share/tuxpaint/stamps', 'tuxpaint-stamps-default'],
  ['/var/lib/dpkg/info/ukui-wallpapers.list', 'ukui-wallpapers'],
  ['/var/lib/dpkg/info/lomiri-wallpapers.list', 'lomiri-wallpapers'],
  ['/var/lib/dpkg/info/lomiri-wallpapers-16.04.list', 'lomiri-wallpapers-16.04'],
  ['/var/lib/dpkg/info/lomiri-wallpapers-20.04.list', 'lomiri-wallpapers-20.04'],
  ['/usr/lib/python3/dist-packages/skimage/data', 'python3-skimage'],
];
const missing = wanted.filter(([path]) => !existsSync(path)).map(([, pkg]) => pkg);
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    log(`installing Debian packages: ${missing.join(' ')}`);
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      DEBIAN_FRONTEND: 'noninteractive',
    });
  } else {
    log(`missing Debian packages: ${missing.join(' ')} — run as root: apt-get install -y ${missing.join(' ')}`);
    if (ci) {
      log('CI is set: every test layer must run, so set-up fails here');
      process.exit(1);
    }
    log('tests that need them will be skipped with this reason');
  }
}

try {
  const v = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim();
  log(`browser: ${v}`);
} catch (err) {
  log(`browser: not available (${err instanceof Error ? err.message.split('\n')[0] : err})`);
  // In CI the browser layer must run: fail now rather than let it skip.
  if (ci) process.exit(1);
}
