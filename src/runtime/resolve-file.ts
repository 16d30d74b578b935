// Where a manifest's `file` may point: confined to the manifest's own directory (same scheme and origin) unless the app resolves it itself.
import { EdgetuneError } from '../core/errors.js';

/**
 * An app's own rule for turning a manifest's `file` into the URL to fetch (the opt-in for model files
 * on another origin or outside the manifest's directory, e.g. a CDN). Whatever it returns is fetched
 * as is: the app vouches for it.
 *
 * @param file - the manifest's `file` field, unchecked
 * @param manifestUrl - absolute URL the manifest was fetched from
 */
export type ResolveFile = (file: string, manifestUrl: URL) => string | URL;

/** Schemes a model file may be fetched over without the app's own {@link ResolveFile}. */
const CONFINED_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'file:']);

function refuse(file: string, why: string, manifestUrl: URL): never {
  throw new EdgetuneError(
    'MANIFEST_INVALID',
    `Manifest field "file" ${why} (got ${JSON.stringify(file.slice(0, 120))}, manifest at ${manifestUrl.href}). A manifest may only name a file in its own directory or below; to load model files from elsewhere, pass resolveFile to Encoder.open. See docs/manifest.md.`,
    { details: { field: 'file', value: file, manifest: manifestUrl.href } },
  );
}

/** The manifest URL made absolute (against the page in a browser). */
export function absoluteManifestUrl(url: string): URL {
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  try {
    return typeof base === 'string' ? new URL(url, base) : new URL(url);
  } catch (err) {
    throw new EdgetuneError('INVALID_ARGUMENT', `Manifest URL ${JSON.stringify(url)} is not an absolute URL and there is no page location to resolve it against; pass an absolute URL.`, { cause: err, details: { url } });
  }
}

/**
 * Resolves a manifest's `file` to the URL of the model bytes.
 *
 * Without `resolveFile`, the result must stay in the manifest's directory (or below it), on the same
 * scheme, host and port, over http(s) (or `file:` next to a `file:` manifest). Absolute URLs,
 * scheme-relative `//host` names, root-absolute `/paths`, backslashes and `..` that climbs out are
 * refused, so a manifest from one place cannot make the app fetch (and run) bytes from another.
 *
 * @param file - the manifest's `file` field
 * @param manifestUrl - URL the manifest was fetched from
 * @param resolveFile - the app's own rule (opt-in to anything else) @defaultValue confined
 * @throws EdgetuneError `MANIFEST_INVALID` (field `file`), `INVALID_ARGUMENT` when `resolveFile` returns no URL
 */
export function resolveModelFile(file: string, manifestUrl: string | URL, resolveFile?: ResolveFile): string {
  const base = typeof manifestUrl === 'string' ? absoluteManifestUrl(manifestUrl) : manifestUrl;
  if (resolveFile) {
    const out = resolveFile(file, base);
    try {
      return new URL(String(out), base).href;
    } catch (err) {
      throw new EdgetuneError('INVALID_ARGUMENT', `resolveFile returned ${JSON.stringify(String(out))} for ${JSON.stringify(file)}, which is not a URL.`, { cause: err, details: { file } });
    }
  }
  if (!CONFINED_SCHEMES.has(base.protocol)) refuse(file, `cannot be resolved against a ${base.protocol} manifest URL`, base);
  // Checked on the raw string for a clear message; the resolved URL is checked below as the guarantee.
  if (/^[a-z][a-z0-9+.-]*:/i.test(file)) refuse(file, 'must be a relative path, not a URL with a scheme', base);
  if (file.startsWith('/') || file.includes('\\')) refuse(file, 'must be a relative path (no leading "/", "//host" or backslashes)', base);
  if (file.split(/[?#]/)[0]!.split('/').includes('..')) refuse(file, 'must not climb out of the manifest\'s directory with ".."', base);
  let resolved: URL;
  try {
    resolved = new URL(file, base);
  } catch {
    refuse(file, 'is not a valid relative path', base);
  }
  const dir = base.pathname.slice(0, base.pathname.lastIndexOf('/') + 1);
  // Percent-encoded dots ("%2e%2e") are normalised by the URL parser, so compare the result too.
  if (resolved.protocol !== base.protocol || resolved.host !== base.host || resolved.username !== base.username || resolved.password !== base.password || !resolved.pathname.startsWith(dir) || resolved.pathname === dir) {
    refuse(file, `must resolve inside ${base.protocol}//${base.host}${dir}`, base);
  }
  return resolved.href;
}
