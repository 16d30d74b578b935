// The `edgetune` command line (Node only): import, quantize and verify encoders for the SDK.
import { parseArgs } from 'node:util';
import { CROP_POLICIES, OUTPUT_POOLINGS, type CropPolicy, type OutputPooling } from '../runtime/manifest.js';
import { importModel, ImportRefused, PRESETS, type Preset } from './import.js';
import { readOnnx } from './onnx-proto.js';
import { formatDynamicReport, isDynamicModel, reportDynamic } from './dynamic.js';
import { formatQuantizeReport, quantizeModel, readManifestAndModel } from './quantize.js';
import { EdgetuneError } from '../core/errors.js';
import { formatTfliteWrite, writeTflite } from './tflite-ship.js';
import { formatTfliteVerdict, tfliteVerdict } from './tflite-verdict.js';
import { formatVerifyReport, verifyManifest } from './verify.js';

const USAGE = `usage:
  edgetune import MODEL.onnx|MODEL.tflite [--preset imagenet|clip|dinov2|raw] [--mean R,G,B --std R,G,B]
                  [--size 224] [--crop center|stretch|pad] [--output NAME] [--pooling cls|mean|none]
                  [--id ID] [--license SPDX]
  edgetune quantize MANIFEST.json (--calibrate DIR [--limit 32] | --calibrate-sample N) [--speed-runs 5] [--tflite]
  edgetune convert MANIFEST.json --tflite
  edgetune verify MANIFEST.json [--threshold 0.999]`;

class UsageError extends Error {}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T))
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)}).`);
  return value as T;
}

function numbers(flag: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const xs = value.split(',').map(Number);
  if (xs.length !== 3 || !xs.every(Number.isFinite))
    throw new UsageError(
      `--${flag} takes three comma-separated numbers, e.g. 0.485,0.456,0.406 (got ${JSON.stringify(value)}).`,
    );
  return xs;
}

function positive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${flag} must be a non-negative integer (got ${JSON.stringify(value)}).`);
  return n;
}

/** Where the CLI writes (tests capture it). */
export interface CliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/**
 * Runs the CLI.
 *
 * @param argv - arguments after the program name
 * @param io - output sinks @defaultValue process.stdout / process.stderr
 * @returns the exit code
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        preset: { type: 'string' },
        size: { type: 'string' },
        crop: { type: 'string' },
        output: { type: 'string' },
        pooling: { type: 'string' },
        id: { type: 'string' },
        mean: { type: 'string' },
        std: { type: 'string' },
        license: { type: 'string' },
        calibrate: { type: 'string' },
        'calibrate-sample': { type: 'string' },
        limit: { type: 'string' },
        'speed-runs': { type: 'string' },
        tflite: { type: 'boolean' },
        threshold: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || !command) {
      io.out(`${USAGE}\n`);
      return command ? 0 : 2;
    }
    const target = positionals[0];
    if (!target || positionals.length > 1) throw new UsageError(`${command} takes one file argument.`);
    if (command === 'import') {
      const r = await importModel(target, {
        preset: oneOf('preset', values.preset, Object.keys(PRESETS) as Preset[]),
        size: positive('size', values.size),
        crop: oneOf<CropPolicy>('crop', values.crop, CROP_POLICIES),
        output: values.output,
        pooling: oneOf<OutputPooling>('pooling', values.pooling, OUTPUT_POOLINGS),
        id: values.id,
        mean: numbers('mean', values.mean),
        std: numbers('std', values.std),
        license: values.license,
      });
      const m = r.manifest;
      io.out(
        values.json
          ? `${JSON.stringify(r, null, 2)}\n`
          : [
              `import ${m.file} → ${r.manifestPath}`,
              `  id ${m.id}, ${m.format} ${m.dtype} (${m.quantization}), ${m.bytes} bytes, sha256 ${m.sha256}`,
              `  input ${m.input.name} ${JSON.stringify(m.input.shape)} ${m.input.layout}, fed ${m.input.width}×${m.input.height}, crop ${m.input.crop}${m.input.cropFraction !== undefined && m.input.cropFraction !== 1 ? ` ${m.input.cropFraction}` : ''}, mean ${m.input.mean.join(',')} std ${m.input.std.join(',')}`,
              `  output ${m.output.name}${m.output.shape ? ` ${JSON.stringify(m.output.shape)}` : ''}, pooling ${m.output.pooling} → ${m.output.dim}-d${m.output.normalized ? ' (L2-normalised)' : ''}; ran on ${r.ran}`,
              ...r.notes.map((n) => `  note: ${n}`),
            ].join('\n') + '\n',
      );
      return 0;
    }
    // --tflite: write ID-tflite.tflite + manifest, or (outside the converter's op set) print the op-by-op verdict.
    const tflite = async (manifestPath: string): Promise<number> => {
      try {
        const w = await writeTflite(manifestPath);
        io.out(values.json ? `${JSON.stringify(w, null, 2)}\n` : `${formatTfliteWrite(w)}\n`);
        return 0;
      } catch (err) {
        if (!(err instanceof EdgetuneError) || err.code !== 'UNSUPPORTED_OP') throw err;
        const { manifest, bytes } = await readManifestAndModel(manifestPath);
        const v = tfliteVerdict(readOnnx(bytes));
        io.out(values.json ? `${JSON.stringify(v, null, 2)}\n` : `${formatTfliteVerdict(manifest.id, v)}\n`);
        io.err(`edgetune ${command}: ${err.message}\n`);
        return 1;
      }
    };
    if (command === 'convert') {
      if (!values.tflite) throw new UsageError('convert needs --tflite.');
      return await tflite(target);
    }
    if (command === 'quantize') {
      if (values.tflite && !values.calibrate && values['calibrate-sample'] === undefined) return await tflite(target);
      if (!values.calibrate && values['calibrate-sample'] === undefined)
        throw new UsageError('quantize needs --calibrate DIR or --calibrate-sample N.');
      const opts = {
        calibrate: values.calibrate,
        calibrateSample: positive('calibrate-sample', values['calibrate-sample']),
        limit: positive('limit', values.limit),
        speedRuns: positive('speed-runs', values['speed-runs']),
      };
      // A model that comes dynamically quantized stays so: the report says what that path costs.
      if (await isDynamicModel(target)) {
        const d = await reportDynamic(target, opts);
        io.out(values.json ? `${JSON.stringify(d, null, 2)}\n` : `${formatDynamicReport(d)}\n`);
        return 0;
      }
      const r = await quantizeModel(target, opts);
      io.out(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatQuantizeReport(r)}\n`);
      return values.tflite ? await tflite(r.manifest) : 0;
    }
    if (command === 'verify') {
      const threshold = values.threshold === undefined ? 0.999 : Number(values.threshold);
      if (!(threshold > 0 && threshold <= 1))
        throw new UsageError(`--threshold must be in (0, 1] (got ${values.threshold}).`);
      const r = await verifyManifest(target, threshold);
      io.out(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatVerifyReport(r)}\n`);
      return r.ok ? 0 : 1;
    }
    throw new UsageError(`Unknown command ${JSON.stringify(command)}.`);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      io.err(`edgetune: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    const refused = err instanceof ImportRefused;
    io.err(`edgetune ${command}: ${refused ? 'refused: ' : ''}${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
