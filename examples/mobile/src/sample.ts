// Loads the bundled Fashion-MNIST sample (gzip'd N×H×W uint8 images and uint8 labels, described by a JSON file) for kiosks and tests without a camera.

/** The decoded sample. */
export interface Sample {
  readonly count: number;
  readonly width: number;
  readonly height: number;
  readonly classes: readonly string[];
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

const FMNIST = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

async function hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function gunzip(url: URL, sha256: unknown): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`Could not fetch ${url.pathname} (HTTP ${res.status}).`);
  const raw = new Uint8Array(await res.arrayBuffer());
  if (typeof sha256 === 'string' && (await hex(raw)) !== sha256)
    throw new Error(
      `${url.pathname} does not match the SHA-256 in its descriptor; the sample is damaged. Reload to fetch it again.`,
    );
  // gzip magic 1f 8b; accept an uncompressed file too.
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  return new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer(),
  );
}

function field(o: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) {
    const path = n.split('.');
    let v: unknown = o;
    for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
    if (v !== undefined) return v;
  }
  return undefined;
}

function fileName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const f = (v as { file?: unknown; path?: unknown }).file ?? (v as { path?: unknown }).path;
    return typeof f === 'string' ? f : undefined;
  }
  return undefined;
}

/** Fetches and decodes the sample described by the JSON at `descriptorUrl`. */
export async function loadSample(descriptorUrl: string): Promise<Sample> {
  const base = new URL(descriptorUrl, location.href);
  const res = await fetch(base);
  if (!res.ok) throw new Error(`Could not fetch the sample descriptor ${base.pathname} (HTTP ${res.status}).`);
  const d = (await res.json()) as Record<string, unknown>;
  const imagesFile = fileName(field(d, 'images', 'files.images', 'imagesFile'));
  const labelsFile = fileName(field(d, 'labels', 'files.labels', 'labelsFile'));
  if (!imagesFile || !labelsFile)
    throw new Error(`The sample descriptor ${base.pathname} names no images/labels files.`);
  const [images, labels] = await Promise.all([
    gunzip(new URL(imagesFile, base), field(d, 'files.images.sha256', 'images.sha256')),
    gunzip(new URL(labelsFile, base), field(d, 'files.labels.sha256', 'labels.sha256')),
  ]);
  const width = Number(field(d, 'width', 'shape.2') ?? 28) || 28;
  const height = Number(field(d, 'height', 'shape.1') ?? 28) || 28;
  const count = Math.min(labels.length, Math.floor(images.length / (width * height)));
  const cls = field(d, 'classes', 'classNames', 'labelNames');
  const classes = Array.isArray(cls) && cls.every((c) => typeof c === 'string') ? (cls as string[]) : FMNIST;
  return { count, width, height, classes, images, labels };
}

/** Image `i` of the sample as RGBA `ImageData` (for the canvas) and its dataset label. */
export function sampleImage(s: Sample, i: number): { image: ImageData; label: string } {
  const n = s.width * s.height;
  const px = s.images.subarray(i * n, (i + 1) * n);
  const rgba = new Uint8ClampedArray(n * 4);
  for (let k = 0; k < n; k++) {
    rgba[k * 4] = rgba[k * 4 + 1] = rgba[k * 4 + 2] = px[k]!;
    rgba[k * 4 + 3] = 255;
  }
  return { image: new ImageData(rgba, s.width, s.height), label: s.classes[s.labels[i]!] ?? String(s.labels[i]) };
}
