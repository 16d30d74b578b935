// The camera side of the app: the viewfinder region (what the model embeds), frame grabs cropped to it, and burst capture that keeps distinct frames only.

/** Side of the viewfinder box as a fraction of the shorter side of the video. */
export const VIEWFINDER = 0.6;
/** Frames a burst keeps at most (the personalizer undoes up to 5 teaches, so a burst stays undoable). */
export const BURST_MAX = 5;
/** Mean absolute difference (0..255 per channel) under which a frame counts as a near-duplicate of the last kept one. */
export const NEAR_DUPLICATE = 4;
/** Pixels of a grabbed crop (square). Large enough for an RGB encoder; the SDK resizes to the model's input. */
const GRAB = 96;

/** The viewfinder box in video pixels: a centred square. */
export function viewfinderRect(v: HTMLVideoElement): { x: number; y: number; s: number } {
  const s = Math.round(Math.min(v.videoWidth, v.videoHeight) * VIEWFINDER);
  return { x: Math.round((v.videoWidth - s) / 2), y: Math.round((v.videoHeight - s) / 2), s };
}

let grabCanvas: HTMLCanvasElement | undefined;

/**
 * The viewfinder region of the current video frame. The SDK on this branch has no region-of-interest
 * option, so the app crops before embedding: the region drawn on screen is exactly what is embedded.
 */
export function grabFrame(v: HTMLVideoElement): ImageData | undefined {
  if (v.readyState < 2 || !v.videoWidth) return undefined;
  const r = viewfinderRect(v);
  if (!grabCanvas) {
    grabCanvas = document.createElement('canvas');
    grabCanvas.width = grabCanvas.height = GRAB;
  }
  const ctx = grabCanvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(v, r.x, r.y, r.s, r.s, 0, 0, GRAB, GRAB);
  return ctx.getImageData(0, 0, GRAB, GRAB);
}

/** Mean absolute RGB difference between two crops of the same size. */
export function frameDistance(
  a: Pick<ImageData, 'data' | 'width' | 'height'>,
  b: Pick<ImageData, 'data' | 'width' | 'height'>,
): number {
  if (a.width !== b.width || a.height !== b.height) return Number.POSITIVE_INFINITY;
  let sum = 0;
  const n = a.data.length;
  for (let i = 0; i < n; i += 4)
    sum +=
      Math.abs(a.data[i]! - b.data[i]!) +
      Math.abs(a.data[i + 1]! - b.data[i + 1]!) +
      Math.abs(a.data[i + 2]! - b.data[i + 2]!);
  return sum / ((n / 4) * 3);
}

/** Frames gathered while the capture button is held: near-duplicates of the last kept frame are dropped. */
export class Burst {
  readonly frames: ImageData[] = [];
  dropped = 0;

  /** Offers a frame; returns true when it was kept. */
  offer(f: ImageData): boolean {
    const last = this.frames[this.frames.length - 1];
    if (last && frameDistance(last, f) < NEAR_DUPLICATE) {
      this.dropped++;
      return false;
    }
    if (this.frames.length >= BURST_MAX) return false;
    this.frames.push(f);
    return true;
  }

  get full(): boolean {
    return this.frames.length >= BURST_MAX;
  }
}

/** Starts the rear camera (any camera when there is none). @throws the DOMException of getUserMedia */
export async function startCamera(video: HTMLVideoElement): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia)
    throw Object.assign(new Error('getUserMedia is not available'), { name: 'SecurityError' });
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: 'environment' }, width: { ideal: 640 }, height: { ideal: 480 } },
    audio: false,
  });
  video.srcObject = stream;
  await video.play().catch(() => undefined);
  // Wait for the first frame so the viewfinder has a size.
  for (let i = 0; i < 100 && (video.readyState < 2 || !video.videoWidth); i++)
    await new Promise((r) => setTimeout(r, 50));
  return stream;
}

/** Stops the camera. */
export function stopCamera(video: HTMLVideoElement, stream: MediaStream | undefined): void {
  for (const t of stream?.getTracks() ?? []) t.stop();
  video.srcObject = null;
}

/** Draws `img` into `canvas` at the image's size (CSS scales it). */
export function drawImage(canvas: HTMLCanvasElement, img: ImageData): void {
  if (canvas.width !== img.width) canvas.width = img.width;
  if (canvas.height !== img.height) canvas.height = img.height;
  canvas.getContext('2d')!.putImageData(img, 0, 0);
}

/**
 * The model's-eye view: `img` resized to the model input and, for a one-channel model, made gray —
 * roughly what the encoder's preprocessing feeds the network.
 */
export function drawModelEye(
  canvas: HTMLCanvasElement,
  img: ImageData,
  input: { width: number; height: number; channels: number },
): void {
  const src = document.createElement('canvas');
  drawImage(src, img);
  canvas.width = input.width;
  canvas.height = input.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(src, 0, 0, input.width, input.height);
  if (input.channels !== 1) return;
  const d = ctx.getImageData(0, 0, input.width, input.height);
  for (let i = 0; i < d.data.length; i += 4) {
    const g = 0.299 * d.data[i]! + 0.587 * d.data[i + 1]! + 0.114 * d.data[i + 2]!;
    d.data[i] = d.data[i + 1] = d.data[i + 2] = g;
  }
  ctx.putImageData(d, 0, 0);
}

/** A small data-URL thumbnail of a frame for the class strips. */
export function thumbnail(img: ImageData, size = 40): string {
  const src = document.createElement('canvas');
  drawImage(src, img);
  const c = document.createElement('canvas');
  c.width = c.height = size;
  const ctx = c.getContext('2d')!;
  ctx.imageSmoothingEnabled = img.width > size;
  ctx.drawImage(src, 0, 0, size, size);
  return c.toDataURL('image/png');
}
