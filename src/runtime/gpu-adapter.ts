// Tells a software (fallback) WebGPU adapter from a hardware one, so 'auto' does not pick a GPU path that is ~200× slower than WASM.

// Older browsers lack `info` or `isFallbackAdapter`.
interface AdapterLike {
  readonly isFallbackAdapter?: boolean;
  readonly info?: InfoLike;
  requestAdapterInfo?(): Promise<InfoLike>;
}
interface InfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}

// CPU renderers: SwiftShader, Mesa llvmpipe/lavapipe, Windows WARP/Basic Render.
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render|\bwarp\b/i;

/** Why the browser's WebGPU adapter is a software one, or `undefined` when it is hardware or absent. */
export async function softwareWebGPU(): Promise<string | undefined> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (!gpu) return undefined;
  let adapter: AdapterLike | null;
  try {
    adapter = (await gpu.requestAdapter()) as AdapterLike | null;
  } catch {
    return undefined;
  }
  if (!adapter) return undefined;
  let info = adapter.info;
  if (!info && typeof adapter.requestAdapterInfo === 'function')
    info = await adapter.requestAdapterInfo().catch(() => undefined);
  const fallback = adapter.isFallbackAdapter === true || info?.isFallbackAdapter === true;
  const text = [info?.vendor, info?.architecture, info?.device, info?.description]
    .filter((s) => typeof s === 'string' && s !== '')
    .join(' / ');
  if (!fallback && !SOFTWARE.test(text)) return undefined;
  const what = [fallback ? 'isFallbackAdapter' : '', text ? `adapter "${text}"` : ''].filter(Boolean).join(', ');
  return `the WebGPU adapter is a software renderer (${what}), typically 100–300× slower than WASM; 'auto' passes it over (name 'webgpu' in the device list, or set softwareGpu: true, to use it)`;
}
