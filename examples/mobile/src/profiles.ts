// Where the app keeps things: one profile per image source, the app's settings, the kiosk's device key, and deleting all of it.

/** One profile per image source: the camera's classes (mug, keys) never mix with the sample's (Trouser, Bag). */
export const PROFILE = { sample: 'edgetune-mobile', camera: 'edgetune-mobile-camera' } as const;
/** Holds the kiosk's non-extractable AES-GCM key (a CryptoKey survives structured cloning, its bytes never leave the browser). */
const KEY_DB = 'edgetune-mobile-keys';
const SETTINGS = 'edgetune-mobile-settings';

/** Settings of the app (no user data: safe in localStorage). */
export interface Settings {
  kiosk: boolean;
  /** Seconds without a touch before a kiosk goes back to its home screen. */
  idleSeconds: number;
  /** What a kiosk keeps between visitors. */
  kioskStore: 'none' | 'encrypted';
  /** SHA-256 hex of the admin PIN, or '' for the admin gesture alone. */
  pinHash: string;
  /** The phone profile is encrypted with a passphrase (asked at start). */
  encrypted: boolean;
}

const DEFAULTS: Settings = { kiosk: false, idleSeconds: 60, kioskStore: 'none', pinHash: '', encrypted: false };

/** Settings, with `?kiosk=1`, `?idle=N`, `?store=encrypted|none` overriding the saved ones for this visit. */
export function loadSettings(): Settings {
  let saved: Partial<Settings> = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS) ?? '{}') as Partial<Settings>;
  } catch {
    // unreadable settings: defaults
  }
  const s = { ...DEFAULTS, ...saved };
  const q = new URLSearchParams(location.search);
  if (q.get('kiosk') === '1') s.kiosk = true;
  const idle = Number(q.get('idle'));
  if (Number.isFinite(idle) && idle > 0) s.idleSeconds = idle;
  const store = q.get('store');
  if (store === 'none' || store === 'encrypted') s.kioskStore = store;
  return s;
}

/** Saves settings. */
export function saveSettings(s: Settings): void {
  localStorage.setItem(SETTINGS, JSON.stringify(s));
}

/** SHA-256 hex of a string (for the PIN). */
export async function sha256(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

function idb<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((res, rej) => {
    req.onsuccess = () => res(req.result);
    req.onerror = () => rej(req.error);
  });
}

async function keyDb(): Promise<IDBDatabase> {
  const open = indexedDB.open(KEY_DB, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('keys');
  return idb(open);
}

/** The kiosk's device key: created on first use, non-extractable. */
export async function deviceKey(): Promise<CryptoKey> {
  const db = await keyDb();
  try {
    const got = (await idb(db.transaction('keys').objectStore('keys').get('kiosk'))) as CryptoKey | undefined;
    if (got) return got;
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    await idb(db.transaction('keys', 'readwrite').objectStore('keys').put(key, 'kiosk'));
    return key;
  } finally {
    db.close();
  }
}

/** Deletes a whole IndexedDB database (a profile not open here, or the key store). */
export function deleteDatabase(name: string): Promise<void> {
  return new Promise((res, rej) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = () => res();
    r.onerror = () => rej(r.error);
    // Another tab holds it open: it is deleted once that tab lets go.
    r.onblocked = () => res();
  });
}

/** Deletes the profiles not open in this page and the kiosk key: with the open profile's forget(), nothing of the user is left. */
export async function forgetOthers(open: string | undefined): Promise<void> {
  for (const name of Object.values(PROFILE)) if (name !== open) await deleteDatabase(name);
  await deleteDatabase(KEY_DB);
}

/** Asks for persistent storage; false when the browser refuses (the app then shows a banner). */
export async function askPersistence(): Promise<boolean> {
  try {
    if (!navigator.storage?.persist) return false;
    return (await navigator.storage.persisted()) || (await navigator.storage.persist());
  } catch {
    return false;
  }
}
