// The devices an encoder can run on, and how 'auto' or an app's preference resolves to an ordered list.
import { EdgetuneError } from '../core/errors.js';

/** Every device edgetune can run a model on, fastest-first in the default order. */
export const DEVICES = Object.freeze({
  /** WebNN on the neural processing unit. */
  'webnn-npu': 'webnn-npu',
  /** WebNN on the GPU. */
  'webnn-gpu': 'webnn-gpu',
  /** WebGPU compute shaders. */
  webgpu: 'webgpu',
  /** WebAssembly on the CPU (SIMD; threads when cross-origin isolated). Works everywhere. */
  wasm: 'wasm',
} as const);

/** A device name. */
export type Device = keyof typeof DEVICES;

/** What an app may ask for: `'auto'`, one device, or its own order. */
export type DevicePreference = 'auto' | Device | readonly Device[];

/** The order `'auto'` tries, from the most to the least specialised. */
export const AUTO_ORDER: readonly Device[] = Object.freeze(['webnn-npu', 'webnn-gpu', 'webgpu', 'wasm']);

/** True when `value` is a known device name. */
export function isDevice(value: unknown): value is Device {
  return typeof value === 'string' && Object.hasOwn(DEVICES, value);
}

/**
 * Resolves a preference to an ordered, de-duplicated device list.
 *
 * @param pref - `'auto'`, a device, or a list of devices
 * @throws EdgetuneError `INVALID_ARGUMENT` listing the valid names for an unknown one
 */
export function resolveDevices(pref: DevicePreference = 'auto'): Device[] {
  const list = pref === 'auto' ? [...AUTO_ORDER] : typeof pref === 'string' ? [pref] : [...pref];
  for (const d of list) {
    if (!isDevice(d)) {
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Unknown device ${JSON.stringify(d)}; use 'auto' or one of: ${Object.keys(DEVICES).join(', ')}.`,
        {
          details: { device: d },
        },
      );
    }
  }
  if (list.length === 0)
    throw new EdgetuneError('INVALID_ARGUMENT', "The device list is empty; use 'auto' or name at least one device.");
  return [...new Set(list)];
}
