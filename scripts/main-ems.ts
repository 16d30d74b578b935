// The main job (`npm start`): an offline session on the shipped default encoder and data sample — embed, search, then personalise and persist through one personalizer.
import 'fake-indexeddb/auto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { openPersonalizer, type Personalizer } from '../src/index.js';
import { Encoder, cosine, type ModelManifest, type RawPixels } from '../src/runtime/index.js';
import { corrupt, type Corruption } from '../bench/finetune/corruptions.js';

const root = join(import.meta.dirname, '..');
const say = (s = ''): void => void process.stdout.write(`${s}\n`);

interface Sample {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  classes: string[];
}

async function loadDefault(): Promise<{ manifest: ModelManifest; bytes: Uint8Array }> {
  const flag = process.argv.indexOf('--model');
  if (flag > 0 && process.argv[flag + 1]) {
    const path = resolve(process.argv[flag + 1]!);
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
    return { manifest, bytes: new Uint8Array(readFileSync(join(dirname(path), manifest.file))) };
  }
  const indexPath = join(root, 'models', 'index.json');
  if (!existsSync(indexPath))
    throw new Error(
      'models/index.json is missing: the shipped encoders are not in this checkout (see models/README.md).',
    );
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { default: string };
  const manifest = JSON.parse(readFileSync(join(root, 'models', `${index.default}.json`), 'utf8')) as ModelManifest;
  return { manifest, bytes: new Uint8Array(readFileSync(join(root, 'models', manifest.file))) };
}

function pixels(sample: Sample, k: number): RawPixels {
  return { data: sample.images.subarray(k * 784, (k + 1) * 784), width: 28, height: 28, channels: 1 };
}

say('# edgetune — offline session on the shipped default encoder\n');
const { loadFmnistSample } = (await import('./lib/fmnist.js')) as { loadFmnistSample: () => Promise<Sample> };
const sample = await loadFmnistSample();
const model = await loadDefault();

const phases: string[] = [];
await using encoder = await Encoder.open(model, { onProgress: (p) => phases.push(p.phase) });
const d = encoder.diagnostics;
say(`## 1. Encoder`);
say(
  `${d.modelId}: ${model.manifest.dtype}, ${model.bytes.byteLength} bytes, ${encoder.dim}-d embeddings, SSL ${model.manifest.ssl?.method ?? '?'}`,
);
say(`runs on ${d.backend} (opened in ${d.loadMs.toFixed(0)} ms: ${phases.join(' → ')})`);
for (const a of d.attempts) if (a.status !== 'ok') say(`  passed over ${a.device}: ${a.reason ?? a.status}`);

say(`\n## 2. Embedding the shipped sample`);
const all = Array.from({ length: sample.count }, (_, k) => pixels(sample, k));
const t0 = performance.now();
const embeddings = await encoder.embed(all);
const secs = (performance.now() - t0) / 1000;
say(
  `${sample.count} Fashion-MNIST test images in ${secs.toFixed(2)} s: ${(sample.count / secs).toFixed(0)} images/s on ${encoder.device}`,
);

say(`\n## 3. Nearest neighbours (cosine)`);
for (const q of [0, 1, 2]) {
  const sims = embeddings
    .map((e, k) => [k, k === q ? -2 : cosine(embeddings[q]!, e)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5);
  say(
    `query #${q} (${sample.classes[sample.labels[q]!]}): ${sims.map(([k, s]) => `${sample.classes[sample.labels[k]!]} ${s.toFixed(3)}`).join(', ')}`,
  );
}
let hits = 0;
const probe = Math.min(1000, sample.count);
for (let q = 0; q < probe; q++) {
  const top = embeddings
    .map((e, k) => [k, k === q ? -2 : cosine(embeddings[q]!, e)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20);
  const votes = new Map<number, number>();
  for (const [k, s] of top) votes.set(sample.labels[k]!, (votes.get(sample.labels[k]!) ?? 0) + s);
  const best = [...votes].sort((a, b) => b[1] - a[1])[0]![0];
  if (best === sample.labels[q]) hits++;
}
say(
  `k-NN (k=20, cosine, leave-one-out over the sample) on the first ${probe} images: ${((hits / probe) * 100).toFixed(1)}% accuracy`,
);

// ---------------------------------------------------------------------------------------------
// 4. Personalisation: this user's camera sees a shifted domain; a few labels, then the unlabeled stream — through one personalizer.
const SHIFT: Corruption = (process.env['EDGETUNE_SHIFT'] as Corruption | undefined) ?? 'contrast';
const SEVERITY = 4;
const order = shuffled(sample.count, 11);
const labeledIdx: number[] = [];
const perClass = new Map<number, number>();
for (const k of order) {
  const c = sample.labels[k]!;
  if ((perClass.get(c) ?? 0) < 5) {
    labeledIdx.push(k);
    perClass.set(c, (perClass.get(c) ?? 0) + 1);
  }
}
const rest = order.filter((k) => !labeledIdx.includes(k));
const streamIdx = rest.slice(0, 2500);
const testIdx = rest.slice(2500, 4000);
const shifted = (idx: number[], seed: number): RawPixels[] => {
  const imgs = new Uint8Array(idx.length * 784);
  idx.forEach((k, j) => imgs.set(sample.images.subarray(k * 784, (k + 1) * 784), j * 784));
  const out = corrupt(imgs, SHIFT, SEVERITY, seed);
  return idx.map((_, j) => ({
    data: out.subarray(j * 784, (j + 1) * 784),
    width: 28,
    height: 28,
    channels: 1 as const,
  }));
};
say(`\n## 4. Personalisation on this device (its camera: ${SHIFT}, severity ${SEVERITY})`);
const [labImg, streamImg, testImg] = [shifted(labeledIdx, 1), shifted(streamIdx, 2), shifted(testIdx, 3)];
const name = (k: number): string => sample.classes[sample.labels[k]!]!;
const labEmb = await encoder.embed(labImg);
const testEmb = await encoder.embed(testImg);
const knn = (q: Float32Array): string => {
  const top = labEmb
    .map((e, j) => [j, cosine(q, e)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3);
  const votes = new Map<string, number>();
  for (const [j] of top) votes.set(name(labeledIdx[j]!), (votes.get(name(labeledIdx[j]!)) ?? 0) + 1);
  return [...votes].sort((a, b) => b[1] - a[1])[0]![0];
};
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const knnAcc = testEmb.filter((e, j) => knn(e) === name(testIdx[j]!)).length / testEmb.length;
const accuracy = async (p: Personalizer): Promise<{ acc: number; labels: string[] }> => {
  const labels: string[] = [];
  for (const img of testImg) labels.push((await p.predict(img)).label);
  return { acc: labels.filter((l, j) => l === name(testIdx[j]!)).length / labels.length, labels };
};

const idb = new IDBFactory();
const storage = { name: 'edgetune-session', indexedDB: idb, IDBKeyRange };
const me = await openPersonalizer({ model, storage, learner: { seed: 1, ...(JSON.parse(process.env["EMS_LEARNER"] ?? "{}")) }, autosaveMs: false });
for (const [j, img] of labImg.entries()) await me.teach(img, name(labeledIdx[j]!));
await me.idle();
const fewShot = await accuracy(me);
say(`${labeledIdx.length} labels (5 per class) tapped by the user:`);
say(`  k-NN on the labels (k=3, the Teachable Machine way): ${pct(knnAcc)}`);
say(`  edgetune personalizer after the labels:              ${pct(fewShot.acc)}`);
const tStream = performance.now();
// A batch job waits out each adaptation (a camera app would not): frames observed meanwhile are only deferred.
for (const img of streamImg) if ((await me.observe(img)).deferred) await me.idle();
await me.idle();
const streamSecs = (performance.now() - tStream) / 1000;
const st = (await me.stats()).learner;
const adapted = await accuracy(me);
say(
  `then ${streamImg.length} unlabeled frames observed (${streamSecs.toFixed(1)} s, embedding and adapting included):`,
);
say(
  `  pseudo-labels accepted ${st.accepted}, rejected for low confidence ${st.rejectedLowConfidence}, adaptations ${st.adaptations}, rollbacks ${st.rollbacks}, drifts ${st.drifts}`,
);
say(
  `  edgetune personalizer after the stream:              ${pct(adapted.acc)}  (${adapted.acc >= fewShot.acc ? '+' : ''}${((adapted.acc - fewShot.acc) * 100).toFixed(1)} points from the stream, ${((adapted.acc - knnAcc) * 100).toFixed(1)} over k-NN)`,
);

// ---------------------------------------------------------------------------------------------
// 5. Persistence: the profile in IndexedDB survives a restart; an export file of it.
say(`\n## 5. Persistence`);
const version = await me.save();
await me.dispose();
const again = await openPersonalizer({ model: { id: model.manifest.id }, storage, autosaveMs: false });
const reloaded = await accuracy(again);
const same = reloaded.labels.every((l, j) => l === adapted.labels[j]);
say(
  `checkpoint v${version} saved, personalizer reopened from the cached model: ${same ? `identical predictions on all ${testImg.length} test frames` : 'PREDICTIONS DIFFER'}`,
);
const profile = await again.exportProfile();
mkdirSync(join(root, '.cache'), { recursive: true });
const profilePath = join(root, '.cache', 'profile.edgetune');
writeFileSync(profilePath, profile);
say(`profile exported: ${profile.byteLength} bytes → ${profilePath}`);
await again.dispose();
if (!same) process.exitCode = 1;

function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, k) => k);
  let s = seed >>> 0;
  for (let k = n - 1; k > 0; k--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (k + 1);
    [a[k], a[j]] = [a[j]!, a[k]!];
  }
  return a;
}
