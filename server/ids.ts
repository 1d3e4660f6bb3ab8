/**
 * Secrets and identifiers of the signaling server: host tokens, join codes, session and
 * peer ids, their comparison, and their redaction for logs.
 *
 * @module
 */

/** Crockford's base32 alphabet: no I, L, O or U, so codes survive being read aloud. */
const JOIN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function _base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Returns `n` random bytes from the platform's CSPRNG. */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** `_base64url(randomBytes(n))` that does not start with `-`, so it never reads as a flag. */
function _randomId(n: number): string {
  let id: string;
  do id = _base64url(randomBytes(n)); while (id.startsWith("-"));
  return id;
}

/** A host token: 256 random bits (less one in 64 values), base64url. */
export function newHostToken(): string {
  return _randomId(32);
}

/** A session id: 96 random bits (less one in 64 values), base64url (16 characters). */
export function newSessionId(): string {
  return _randomId(12);
}

/** A peer id: 64 random bits, base64url, prefixed with the role's initial. */
export function newPeerId(role: "host" | "viewer"): string {
  return `${role[0]}_${_base64url(randomBytes(8))}`;
}

/**
 * A join code: 12 characters of Crockford base32 (60 random bits) in three groups of four,
 * such as `7K3Q-M9TX-2B4F`.
 */
export function newJoinCode(): string {
  const bytes = randomBytes(12);
  let code = "";
  for (let i = 0; i < 12; i++) {
    code += JOIN_ALPHABET[bytes[i] & 31];
    if (i % 4 === 3 && i < 11) code += "-";
  }
  return code;
}

/** Normalizes a join code for comparison: upper case, without spaces or `-`. */
export function normalizeJoinCode(code: string): string {
  return code.replace(/[\s-]/g, "").toUpperCase();
}

/** SHA-256 of `secret`, hex: what the store keeps instead of a token or a code. */
export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares two equal-length strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Shows the first four characters of a secret and hides the rest, for logs. */
export function redact(secret: string | undefined): string {
  if (!secret) return "";
  return secret.length <= 4 ? "…" : `${secret.slice(0, 4)}…`;
}
