/**
 * Byte helpers shared by the frame encoder (`framing.ts`) and decoder (`frame_decoder.ts`).
 * Internal: not part of the public API.
 *
 * @module
 */

/** The largest value of a `u32`. */
export const U32_MAX = 0xffff_ffff;

/** Reads a big-endian `u32` at `offset`. */
export function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) >>> 0) + (bytes[offset + 1] << 16) +
    (bytes[offset + 2] << 8) + bytes[offset + 3];
}

/** Writes `value` as a big-endian `u32` at `offset`. */
export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/** Throws a `RangeError` unless `value` is an integer in `[0, 0xFFFFFFFF]`. */
export function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new RangeError(`${what} must be an integer in [0, 0xFFFFFFFF], got ${value}`);
  }
}

/** Throws a `TypeError` unless `value` is a `Uint8Array`. */
export function checkPayload(value: Uint8Array, what = "payload"): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}
