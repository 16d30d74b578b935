// SHA-256 through WebCrypto, shared by the runtime (model checksums) and storage (record checksums).

/**
 * Lower-case hex SHA-256 of `bytes` (WebCrypto; available in browsers, workers and Node ≥ 20).
 *
 * @param bytes - data to hash
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // Copy when the view is not a whole ArrayBuffer: digest() takes a BufferSource over plain memory.
  const view =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
      ? bytes
      : bytes.slice();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', view as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}
