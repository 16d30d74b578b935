// Where a manifest's `file` may point: confined to the manifest's own directory (same scheme and origin) unless the app resolves it itself.
import { EdgetuneError } from '../core/errors.js';

/**
 * An app's own rule from a manifest's `file` (unchecked) to the URL to fetch: the opt-in for files
 * elsewhere (e.g. a CDN). What it returns is fetched as is.
 */
export type ResolveFile = (file: string, manifestUrl: URL) => string | URL;

const CONFINED_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'file:']);

function refuse(file: string, why: string, manifestUrl: URL): never {
  throw new EdgetuneError(
    'MANIFEST_INVALID',
    `Manifest field "file" ${why} (got ${JSON.stringify(file.slice(0, 120))}, manifest at ${manifestUrl.href}); pass resolveFile to Encoder.open to load files from elsewhere.`,
    { details: { field: 'file', value: file, manifest: manifestUrl.href } },
  );
}

/** The manifest URL made absolute (against the page in a browser). */
export function absoluteManifestUrl(url: string): URL {
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  try {
    return typeof base === 'string' ? new URL(url, base) : new URL(url);
  } catch (err) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `Manifest URL ${JSON.stringify(url)} is not an absolute URL and there is no page location to resolve it against; pass an absolute URL.`,
      { cause: err, details: { url } },
    );
  }
}

/** `modelBaseUrl` as a directory URL, resolved against the manifest's URL (so a relative base works). */
function baseDirectory(modelBaseUrl: string, manifestUrl: URL): URL {
  if (typeof modelBaseUrl !== 'string' || modelBaseUrl === '')
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `modelBaseUrl must be a non-empty URL or path string (got ${JSON.stringify(modelBaseUrl)}).`,
      { details: { option: 'modelBaseUrl' } },
    );
  let url: URL;
  try {
    url = new URL(modelBaseUrl, manifestUrl);
  } catch (err) {
    throw new EdgetuneError('INVALID_ARGUMENT', `modelBaseUrl ${JSON.stringify(modelBaseUrl)} is not a valid URL.`, {
      cause: err,
      details: { option: 'modelBaseUrl' },
    });
  }
  // A base names a directory: "https://cdn/models" and "https://cdn/models/" both mean the folder.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  // The model itself is never fetched from the manifest's own name: resolve against a dummy entry of the directory.
  return new URL('__manifest__', url);
}

/**
 * Resolves a manifest's `file` to the model's URL. Without `resolveFile` it must stay in the
 * manifest's directory (or below) on the same scheme and host, so a manifest cannot make the app
 * fetch and run bytes from elsewhere: schemes, `//host`, `/path`, backslashes and `..` are refused.
 *
 * @param file - the manifest's `file` field
 * @param manifestUrl - URL the manifest was fetched from
 * @param resolveFile - the app's own rule @defaultValue confined
 * @param modelBaseUrl - a directory (URL, or a path relative to the manifest) that takes the place
 *   of the manifest's directory: `file` is resolved and confined there instead @defaultValue the manifest's directory
 * @throws EdgetuneError `MANIFEST_INVALID` (field `file`); `INVALID_ARGUMENT` when `resolveFile` returns no URL
 */
export function resolveModelFile(
  file: string,
  manifestUrl: string | URL,
  resolveFile?: ResolveFile,
  modelBaseUrl?: string,
): string {
  const manifestBase = typeof manifestUrl === 'string' ? absoluteManifestUrl(manifestUrl) : manifestUrl;
  const base = modelBaseUrl === undefined ? manifestBase : baseDirectory(modelBaseUrl, manifestBase);
  if (resolveFile) {
    const out = resolveFile(file, base);
    try {
      return new URL(String(out), base).href;
    } catch (err) {
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `resolveFile returned ${JSON.stringify(String(out))} for ${JSON.stringify(file)}, which is not a URL.`,
        { cause: err, details: { file } },
      );
    }
  }
  if (!CONFINED_SCHEMES.has(base.protocol))
    refuse(file, `cannot be resolved against a ${base.protocol} manifest URL`, base);
  // Raw-string checks give clear messages; the resolved URL check below is the guarantee.
  if (/^[a-z][a-z0-9+.-]*:/i.test(file)) refuse(file, 'must be a relative path, not a URL with a scheme', base);
  if (file.startsWith('/') || file.includes('\\'))
    refuse(file, 'must be a relative path (no leading "/", "//host" or backslashes)', base);
  if (file.split(/[?#]/)[0]!.split('/').includes('..'))
    refuse(file, 'must not climb out of the manifest\'s directory with ".."', base);
  let resolved: URL;
  try {
    resolved = new URL(file, base);
  } catch {
    refuse(file, 'is not a valid relative path', base);
  }
  const dir = base.pathname.slice(0, base.pathname.lastIndexOf('/') + 1);
  // The parser normalises "%2e%2e" to "..": compare the result too.
  if (
    resolved.protocol !== base.protocol ||
    resolved.host !== base.host ||
    resolved.username !== base.username ||
    resolved.password !== base.password ||
    !resolved.pathname.startsWith(dir) ||
    resolved.pathname === dir
  ) {
    refuse(file, `must resolve inside ${base.protocol}//${base.host}${dir}`, base);
  }
  return resolved.href;
}
