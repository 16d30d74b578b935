// What the personalizer keeps in a profile: the checkpoint record (learner state + the label journal entries inside it), the journal sample, and restoring a learner with the app's current settings.
import { EdgetuneError, isEdgetuneError } from '../core/errors.js';
import { Learner, type LearnerOptions, type LearnerState, type Prediction } from '../finetune/learner.js';
import type { PersonalizerPrediction } from './types.js';

/** Format tag of a personalizer checkpoint. */
export const RECORD_FORMAT = 'edgetune.personalizer';

/** A personalizer checkpoint: the learner state, and which journal entries (labels) it already holds. */
export interface PersonalizerRecord {
  readonly format: typeof RECORD_FORMAT;
  readonly version: 1;
  readonly model: { readonly id: string; readonly sha256: string };
  /** Sequence numbers of the label journal entries inside `learner`. */
  readonly labels: number[];
  readonly learner: LearnerState;
  readonly savedAt: number;
}

/** One taught example in the label journal (the profile's sample store), written before it is learned. */
export interface JournalEntry {
  readonly embedding: Float32Array;
  readonly label: string;
  readonly at: number;
}

/** The slot of a model's checkpoints and journal: keyed by its id and SHA-256, so another version of the model never loads this head. */
export function slotFor(id: string, sha256: string): string {
  return `personalizer/${sha256}/${id.slice(0, 120)}`;
}

/** Checks a loaded checkpoint payload; `STATE_INVALID` when it is not ours or made for another model. */
export function checkRecord(payload: unknown, model: { id: string; sha256: string }): PersonalizerRecord {
  const r = payload as Partial<PersonalizerRecord> | null;
  if (typeof r !== 'object' || r === null || r.format !== RECORD_FORMAT || r.version !== 1) {
    throw new EdgetuneError(
      'STATE_INVALID',
      `The checkpoint is not a personalizer record (format ${JSON.stringify(r?.format)}); it was written by something else.`,
    );
  }
  if (r.model?.id !== model.id || r.model?.sha256 !== model.sha256) {
    throw new EdgetuneError(
      'STATE_INVALID',
      `The checkpoint was made for model ${r.model?.id}@${r.model?.sha256?.slice(0, 12)}, not ${model.id}@${model.sha256.slice(0, 12)}.`,
    );
  }
  if (!Array.isArray(r.labels) || !r.labels.every((n) => Number.isInteger(n) && n >= 1))
    throw new EdgetuneError('STATE_INVALID', 'The checkpoint lists malformed label journal entries.');
  return r as PersonalizerRecord;
}

/** Learner settings fixed by the saved weights: the app's value cannot replace them on reopen. */
const FROZEN: ReadonlySet<string> = new Set(['dim', 'head', 'hidden', 'seed', 'classes', 'replay']);

/**
 * Restores a learner from a saved state with the settings the app passes now taking precedence over
 * those frozen in the state (except the ones that shape the weights). When the merged settings do not
 * fit the state, the saved ones are kept.
 */
export function restoreLearner(
  state: LearnerState,
  app: Omit<LearnerOptions, 'dim'> | undefined,
  dim: number,
): Learner {
  const keys = Object.keys(app ?? {}).filter(
    (k) => !FROZEN.has(k) && (app as Record<string, unknown>)[k] !== undefined,
  );
  if (keys.length > 0) {
    // The app's settings resolved exactly as a new learner would resolve them.
    const probe = new Learner({ ...app, dim });
    const resolved = probe.getState().options as unknown as Record<string, unknown>;
    probe.dispose();
    const merged = { ...(state.options as unknown as Record<string, unknown>) };
    for (const k of keys) if (k in resolved) merged[k] = resolved[k];
    try {
      return Learner.fromState({ ...state, options: merged as unknown as LearnerState['options'] });
    } catch (e) {
      if (!isEdgetuneError(e, 'STATE_INVALID') && !isEdgetuneError(e, 'INVALID_ARGUMENT')) throw e;
    }
  }
  return Learner.fromState(state);
}

/** A learner prediction as the personalizer reports it. */
export function toPrediction(p: Prediction, classes: readonly string[]): PersonalizerPrediction {
  const scores = classes.map((label, k) => ({ label, score: p.probs[k] ?? 0 })).sort((a, b) => b.score - a.score);
  // `unknown` comes from learners that can tell an out-of-distribution input; older ones cannot.
  const unknown = (p as { unknown?: unknown }).unknown === true;
  return { label: p.label, confidence: p.confidence, unknown, scores };
}
