/**
 * Per-packet floors of a Deno host's data path, measured on this machine: what one
 * broadcast packet to one viewer must cost before any SCTP, DTLS or ICE logic runs.
 *
 *   deno run -A bench/floors.ts [--count 20000] [--json FILE]
 *
 * - `seal`: one AES-128-GCM DTLS record of a 1,228-byte SCTP packet through node:crypto
 *   (what werift and the adapter's lean record path call).
 * - `open`: one 48-byte record (a SACK) decrypted the same way.
 * - `send`: one 1,265-byte datagram through node:dgram to a socket in another process, CPU of
 *   this process per datagram (on loopback this includes the kernel's delivery work).
 * - `receive`: one 64-byte datagram received through node:dgram with the adapter's receive
 *   buffer size, CPU per datagram.
 * - `timer`: a setTimeout and its clearTimeout (werift restarts SCTP's T3 timer per SACK).
 *
 * The floor per packet is seal + send + half of (receive + open): viewers acknowledge every
 * second packet. The budget is target 3 of issue 10, 25% of a core for 100 viewers at
 * 50 messages a second, one packet each.
 *
 * @module
 */
import dgram from "node:dgram";
import process from "node:process";
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { flagTable, parseFlags } from "../cli/flags.ts";
import { RECEIVE_BUFFER_BYTES } from "../adapters/werift_fast_path.ts";

const { values: flags } = parseFlags(
  Deno.args,
  flagTable({
    count: { type: "int", help: "operations per figure", default: 20_000, min: 1 },
    json: { type: "string", help: "write results here" },
  }),
);
const { count } = flags;

/** CPU µs of this process per operation, `n` operations, after a warm-up. */
async function cpuPer(n: number, run: (n: number) => void | Promise<void>): Promise<number> {
  await run(Math.min(2_000, n));
  const before = process.cpuUsage();
  await run(n);
  const used = process.cpuUsage(before);
  return Math.round(((used.user + used.system) / n) * 100) / 100;
}

const key = randomBytes(16);
const nonce = randomBytes(12);
const aad = randomBytes(13);

function seal(plain: Uint8Array): Buffer[] {
  const cipher = createCipheriv("aes-128-gcm", key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plain.length });
  return [cipher.update(plain), cipher.final(), cipher.getAuthTag()];
}

const packet = randomBytes(1_228);
const [sack, , sackTag] = seal(randomBytes(48));
const sealUs = await cpuPer(count, (n) => {
  for (let i = 0; i < n; i++) seal(packet);
});
const openUs = await cpuPer(count, (n) => {
  for (let i = 0; i < n; i++) {
    const decipher = createDecipheriv("aes-128-gcm", key, nonce, { authTagLength: 16 });
    decipher.setAAD(aad, { plaintextLength: sack.length });
    decipher.setAuthTag(sackTag);
    decipher.update(sack);
    decipher.final();
  }
});
const timerUs = await cpuPer(count, (n) => {
  for (let i = 0; i < n; i++) clearTimeout(setTimeout(() => {}, 1_000));
});

const peer = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL("./_udp_peer.ts", import.meta.url).pathname],
  stdin: "piped",
  stdout: "piped",
}).spawn();
const lines = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
const peerPort = Number((await lines.read()).value);
const socket = dgram.createSocket("udp4");
await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES); // as the adapter sets on werift's ICE sockets
const datagram = Buffer.alloc(1_265, 7);
const sendUs = await cpuPer(count, async (n) => {
  // in batches, as a fan-out tick sends: the sends' completions run between batches
  for (let i = 0; i < n; i += 100) {
    for (let k = 0; k < 100; k++) socket.send(datagram, peerPort, "127.0.0.1");
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
});
let received = 0;
socket.on("message", () => received++);
const receiveUs = await cpuPer(count, async (n) => {
  received = 0;
  socket.send(Buffer.from(`burst ${n}`), peerPort, "127.0.0.1");
  const deadline = Date.now() + 30_000;
  while (received < n * 0.99 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
});
socket.close();
await peer.stdin.close();
await lines.cancel();
await peer.status;

const floorUs = Math.round((sealUs + sendUs + (receiveUs + openUs) / 2) * 10) / 10;
const budgetUs = (0.25 * 1e6) / (100 * 50);
const result = {
  sealUs,
  openUs,
  sendUs,
  receiveUs,
  timerUs,
  floorUsPerPacket: floorUs,
  budgetUsPerPacket: budgetUs,
  floorShareOfBudget: `${Math.round((floorUs / budgetUs) * 100)}%`,
};
console.log(JSON.stringify(result));
if (flags.json !== undefined) await Deno.writeTextFile(flags.json, JSON.stringify(result));
