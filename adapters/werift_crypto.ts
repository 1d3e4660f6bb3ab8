/**
 * Faster DTLS handshake crypto for werift: native X25519 and a faster ECDSA P-256 signer.
 * Internal to the adapter (`./werift.ts`), which installs it once.
 *
 * werift computes a DTLS handshake's key agreement in JavaScript with tweetnacl
 * (dtls/src/cipher/namedCurve.ts generateKeyPair: `nacl.box.keyPair()`; dtls/src/cipher/prf.ts
 * prfPreMasterSecret: `nacl.scalarMult`), about 0.9 ms each here, and signs its
 * ServerKeyExchange / CertificateVerify through `crypto.createSign` with the key as PEM, parsed
 * again on every call (dtls/src/context/cipher.ts generateKeySignature, signatureData), about
 * 0.9 ms. Together 2.6 ms of a host's ~10 ms of CPU per handshake, and as much again on each
 * werift viewer. Measured here: native X25519 keygen 30 µs, agreement 82 µs; noble's P-256
 * signer (werift's own dependency) 190 µs.
 *
 * Both results are identical in kind (the same curves, a DER ECDSA signature), so the
 * replacement is safe for anything else in the process that uses tweetnacl's `box.keyPair`
 * or `scalarMult`; where the native call throws (a malformed public key), the original
 * function runs instead. An upstream fix would be werift using `crypto.generateKeyPairSync`
 * / `crypto.diffieHellman` for X25519 and keeping the signing key as a `KeyObject`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from "node:crypto";
import { p256 } from "@noble/curves/p256";
import nacl from "tweetnacl";
import { CipherContext } from "werift";

const _installed = Symbol.for("shoal.weriftCrypto");

// DER prefixes of an X25519 PKCS#8 private key and SPKI public key (RFC 8410), 32 bytes follow.
const _PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");
const _SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");

/** A 32-byte array on its own buffer: werift reads `.buffer` of tweetnacl's keys. */
function _own(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.subarray(bytes.length - 32));
}

/** X25519 key pair, as `nacl.box.keyPair()` returns it. */
export function x25519KeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  return {
    publicKey: _own(publicKey.export({ format: "der", type: "spki" })),
    secretKey: _own(privateKey.export({ format: "der", type: "pkcs8" })),
  };
}

/** X25519 shared secret, as `nacl.scalarMult(secretKey, publicKey)` returns it. */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const secret = diffieHellman({
    privateKey: createPrivateKey({
      key: Buffer.concat([_PKCS8_X25519, secretKey]),
      format: "der",
      type: "pkcs8",
    }),
    publicKey: createPublicKey({
      key: Buffer.concat([_SPKI_X25519, publicKey]),
      format: "der",
      type: "spki",
    }),
  });
  return new Uint8Array(secret);
}

const _scalars = new Map<string, Uint8Array | null>();

/** The P-256 private scalar of a PEM key, or null for any other kind of key (cached). */
function _p256Scalar(pem: string): Uint8Array | null {
  let scalar = _scalars.get(pem);
  if (scalar !== undefined) return scalar;
  const jwk = createPrivateKey(pem).export({ format: "jwk" });
  scalar = jwk.kty === "EC" && jwk.crv === "P-256" && jwk.d
    ? new Uint8Array(Buffer.from(jwk.d, "base64url"))
    : null;
  if (_scalars.size >= 16) _scalars.delete(_scalars.keys().next().value!);
  _scalars.set(pem, scalar);
  return scalar;
}

/** ECDSA P-256 over SHA-256 of `data`, DER encoded (what `crypto.createSign` returns). */
export function signP256(data: Uint8Array, scalar: Uint8Array): Buffer {
  return Buffer.from(p256.sign(data, scalar, { prehash: true }).toDERRawBytes());
}

type _Cipher = {
  keyPem?: string;
  localRandom: { serialize(): Buffer };
  remoteRandom: { serialize(): Buffer };
  localKeyPair: { publicKey: Buffer };
  namedCurve: number;
  sessionType: number;
  valueKeySignature(cr: Buffer, sr: Buffer, key: Buffer, curve: number): Buffer;
};

/**
 * Installs both replacements, once per process; later calls do nothing.
 * Returns whether this call installed them.
 */
export function installFastHandshakeCrypto(): boolean {
  const box = nacl as unknown as Record<symbol, boolean>;
  if (box[_installed]) return false;
  box[_installed] = true;

  const keyPair = nacl.box.keyPair;
  const scalarMult = nacl.scalarMult;
  nacl.box.keyPair = Object.assign(() => {
    try {
      return x25519KeyPair();
    } catch {
      return keyPair();
    }
  }, { fromSecretKey: keyPair.fromSecretKey });
  nacl.scalarMult = Object.assign((n: Uint8Array, p: Uint8Array) => {
    try {
      return x25519(n, p);
    } catch {
      return scalarMult(n, p);
    }
  }, { base: scalarMult.base, scalarLength: 32, groupElementLength: 32 });

  const proto = CipherContext.prototype as unknown as Record<string, unknown>;
  const generateKeySignature = proto.generateKeySignature as (this: _Cipher, h: string) => Buffer;
  const signatureData = proto.signatureData as (this: _Cipher, d: Buffer, h: string) => Buffer;
  proto.generateKeySignature = function (this: _Cipher, hash: string): Buffer {
    const scalar = hash === "sha256" && this.keyPem ? _p256Scalar(this.keyPem) : null;
    if (!scalar) return generateKeySignature.call(this, hash);
    const client = this.sessionType === 1; // SessionType.CLIENT
    const local = this.localRandom.serialize();
    const remote = this.remoteRandom.serialize();
    const params = this.valueKeySignature(
      client ? local : remote,
      client ? remote : local,
      this.localKeyPair.publicKey,
      this.namedCurve,
    );
    return signP256(params, scalar);
  };
  proto.signatureData = function (this: _Cipher, data: Buffer, hash: string): Buffer {
    const scalar = hash === "sha256" && this.keyPem ? _p256Scalar(this.keyPem) : null;
    return scalar ? signP256(data, scalar) : signatureData.call(this, data, hash);
  };
  return true;
}
