import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { generateKeyPairSync, verify } from "node:crypto";
import nacl from "tweetnacl";
import { CipherContext, DtlsClient, RTCDtlsTransport } from "werift";
import { werift } from "../adapters/werift.ts";
import {
  installFastHandshakeCrypto,
  signP256,
  x25519,
  x25519KeyPair,
} from "../adapters/werift_crypto.ts";
import { channelOpen, connectPair } from "./rtc_contract.ts";

const test = (name: string, fn: () => Promise<void> | void) =>
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });

const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });

/** Replaces `obj[key]` with a wrapper that calls `spy` first; returns the restore function. */
function spyOn<T extends object>(obj: T, key: keyof T, spy: (self: unknown) => void): () => void {
  const original = obj[key] as (...args: unknown[]) => unknown;
  (obj as Record<keyof T, unknown>)[key] = Object.assign(function (this: unknown, ...a: unknown[]) {
    spy(this);
    return original.apply(this, a);
  }, original);
  return () => void ((obj as Record<keyof T, unknown>)[key] = original);
}

async function openPair(): Promise<void> {
  const signal = AbortSignal.timeout(10_000);
  const rtc = loopback();
  const pair = await connectPair(rtc, rtc, { signal });
  try {
    await channelOpen(pair.hostChannel, signal);
  } finally {
    await pair.close();
  }
}

test("native X25519 keys and agreement match tweetnacl's curve arithmetic", () => {
  const a = x25519KeyPair();
  const b = x25519KeyPair();
  assert.equal(a.secretKey.byteLength, 32);
  assert.equal(a.secretKey.buffer.byteLength, 32, "werift reads the keys' own .buffer");
  assert.deepEqual(a.publicKey, nacl.scalarMult.base(a.secretKey));
  const base = new Uint8Array(32);
  base[0] = 9; // the curve's base point: agreement with it is tweetnacl's public key
  assert.deepEqual(x25519(a.secretKey, base), nacl.scalarMult.base(a.secretKey));
  assert.deepEqual(x25519(a.secretKey, b.publicKey), x25519(b.secretKey, a.publicKey));
});

test("a public key native X25519 refuses gets tweetnacl's answer once installed", () => {
  installFastHandshakeCrypto();
  const { secretKey } = x25519KeyPair();
  assert.throws(() => x25519(secretKey, new Uint8Array(32)));
  assert.deepEqual(nacl.scalarMult(secretKey, new Uint8Array(32)), new Uint8Array(32));
  assert.equal(installFastHandshakeCrypto(), false, "installs once per process");
});

test("P-256 signatures from the fast signer verify as SHA-256 ECDSA", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const d = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  const data = crypto.getRandomValues(new Uint8Array(300));
  const signature = signP256(data, d);
  assert.ok(verify("sha256", data, publicKey, signature));
  data[0] ^= 1;
  assert.ok(!verify("sha256", data, publicKey, signature));
});

test("werift's DTLS handshake runs on the native key agreement and the fast signer", async () => {
  loopback(); // installs the replacements before they are spied on
  assert.equal(installFastHandshakeCrypto(), false);
  const calls = { keyPair: 0, agree: 0, serverSign: 0, clientSign: 0 };
  const proto = CipherContext.prototype;
  const restore = [
    spyOn(nacl.box, "keyPair", () => calls.keyPair++),
    spyOn(nacl, "scalarMult", () => calls.agree++),
    spyOn(proto, "generateKeySignature" as never, () => calls.serverSign++),
    spyOn(proto, "signatureData" as never, () => calls.clientSign++),
  ];
  try {
    await openPair();
  } finally {
    for (const r of restore) r();
  }
  // One key pair and one agreement per side; the server signs its key exchange, the client
  // its CertificateVerify (a WebRTC DTLS server asks for the client's certificate).
  assert.deepEqual(calls, { keyPair: 2, agree: 2, serverSign: 1, clientSign: 1 });
});

test("a werift DTLS client sends its ClientHello 30 ms in, before werift's own 100 ms wait ends", async () => {
  let connects = 0;
  const checks: Promise<number>[] = [];
  const restore = [
    spyOn(DtlsClient.prototype, "connect", () => connects++),
    spyOn(RTCDtlsTransport.prototype, "setState" as never, (self) => {
      const transport = self as RTCDtlsTransport;
      // Runs just before setState("connecting"): the shim's 30 ms timer and werift's 100 ms
      // sleep are set after this 60 ms one, so timer order alone decides what it sees.
      if (transport.state === "new" && transport.role === "client") {
        checks.push(new Promise((resolve) => setTimeout(() => resolve(connects), 60)));
      }
    }),
  ];
  try {
    await openPair();
  } finally {
    for (const r of restore) r();
  }
  assert.deepEqual(await Promise.all(checks), [1]);
  assert.equal(connects, 1, "werift's own later connect() does not start a second handshake");
});
