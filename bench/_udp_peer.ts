/**
 * The far end of `bench/floors.ts`, in its own process so that its work is not counted:
 * binds a UDP socket on 127.0.0.1, prints its port, reads and drops every datagram, and
 * answers a datagram `burst N` by sending N 64-byte datagrams back to the sender in batches
 * of 50, one batch per macrotask. Exits when its stdin closes.
 *
 * @module
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";

const socket = dgram.createSocket("udp4");
let open = true;
socket.on("message", (data, from) => {
  const text = data.length < 32 ? data.toString() : "";
  if (!text.startsWith("burst ")) return;
  let left = Number(text.slice(6));
  const payload = Buffer.alloc(64, 1);
  const batch = () => {
    if (!open) return;
    for (let i = 0; i < 50 && left > 0; i++, left--) socket.send(payload, from.port, from.address);
    if (left > 0 && open) setTimeout(batch, 0);
  };
  batch();
});
socket.bind(0, "127.0.0.1", () => console.log(socket.address().port));
for await (const _ of Deno.stdin.readable) {
  // nothing to read: stdin closing is the signal to stop
}
open = false;
socket.close();
