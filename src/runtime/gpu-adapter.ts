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
  return `the WebGPU adapter is a software renderer (${what}), typically 100–300× slower than WASM; 'auto' passes it over (name 'webgpu' in the device list, or set softwareGpu: true, to try it)`;
}

/**
 * What a remembered device decision depends on: the browser (user agent), its WebGPU adapter
 * (vendor, architecture, device, description, fallback flag), WebNN's presence, cross-origin isolation
 * and core count, and the WASM thread setting. A change to any of them means measure again.
 *
 * @param threads - the WASM thread count the runtime uses (or `'default'`)
 */
export async function platformFingerprint(threads: number | 'default'): Promise<string> {
  const nav = (globalThis as { navigator?: { userAgent?: string; ml?: unknown; hardwareConcurrency?: number } })
    .navigator;
  let adapter = 'none';
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (gpu) {
    try {
      const a = (await gpu.requestAdapter()) as AdapterLike | null;
      if (a) {
        const info = a.info ?? (await a.requestAdapterInfo?.().catch(() => undefined));
        adapter = [info?.vendor, info?.architecture, info?.device, info?.description, a.isFallbackAdapter === true]
          .map(String)
          .join('/');
      }
    } catch {
      adapter = 'error';
    }
  }
  const coi = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return [
    nav?.userAgent ?? `node ${(globalThis as { process?: { version?: string } }).process?.version ?? '?'}`,
    `gpu ${adapter}`,
    `webnn ${nav?.ml ? 'yes' : 'no'}`,
    `coi ${coi}`,
    `cores ${nav?.hardwareConcurrency ?? '?'}`,
    `threads ${threads}`,
  ].join('; ');
}
