// The app's state shared by its modules: the settings, what is on screen, the open personalizer, and the build's model descriptions.
import type { Personalizer, PersonalizerStats } from '../../../src/index.js';
import { PROFILE, loadSettings } from './profiles.js';
import type { startKiosk } from './kiosk.js';
import type { Sample } from './sample.js';

/** A model the build ships, described for the app (set by build.mjs). */
export interface ModelRef {
  readonly manifest: string;
  readonly id: string;
  readonly trainedOn: string;
  readonly dtype: string;
  readonly dim: number;
  readonly bytes: number;
  readonly input: { readonly width: number; readonly height: number; readonly channels: number };
}
declare const __EDGETUNE_MODELS__: { readonly sample: ModelRef; readonly camera: ModelRef };

export type Source = 'sample' | 'camera';
/** Under this confidence a prediction is shown as "Not sure" even when the learner cannot tell unknowns itself. */
export const NOT_SURE_BELOW = 0.6;
/** localStorage key of the sample stream's position (not user data: an index into the bundled sample). */
export const SAMPLE_POSITION = 'edgetune-mobile-sample-position';
export const settings = loadSettings();
export const t0 = performance.now();

export const state = {
  p: undefined as Personalizer | undefined,
  source: 'sample' as Source,
  sample: undefined as Sample | undefined,
  sampleIndex: -1,
  stream: undefined as MediaStream | undefined,
  /** The image on screen (sample mode) or the last camera crop. */
  current: undefined as { image: ImageData; truth?: string } | undefined,
  /** Frames held still for labeling (camera mode). */
  frozen: undefined as ImageData[] | undefined,
  live: false,
  busy: false,
  /** Teach calls per label action, newest last (undo takes them back). */
  undo: [] as { name: string; n: number }[],
  /**
   * The empty scene the kiosk admin captured (viewfinder crop), kept in this page only: the personalizer holds
   * the reference in its worker and loses it when it is reopened, so the app sets it again from this copy.
   */
  emptyScene: undefined as { image: ImageData; at: number } | undefined,
  /** The encoder's diagnostics from the last stats(). */
  diagnostics: undefined as PersonalizerStats['diagnostics'] | undefined,
  counts: new Map<string, number>(),
  thumbs: new Map<string, string[]>(),
  top: undefined as string | undefined,
  passphrase: undefined as string | undefined,
  lastPseudoLog: 0,
  kiosk: undefined as ReturnType<typeof startKiosk> | undefined,
};

/** The model of the current source. */
export const model = (): ModelRef => __EDGETUNE_MODELS__[state.source];
/** The profile of the current source. */
export const profileName = (): string => PROFILE[state.source];
/** A fraction as a whole percentage. */
export const pct = (x: number): string => `${Math.round(x * 100)}%`;
