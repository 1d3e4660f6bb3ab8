/**
 * Shims that make werift's per-packet work on an open connection cheaper: the SCTP packet
 * and DTLS record a data-channel message becomes, and the buffer each received datagram
 * lands in. Each names the werift (or Deno) code it replaces. Internal to the adapter.
 *
 * A host streaming to many viewers sends one SCTP packet per viewer per message and receives
 * a SACK for every second one, so these paths run thousands of times a second; every
 * allocation there also costs garbage collection.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createCipheriv } from "node:crypto";
import { crc32c } from "werift";

/** What werift's SCTP association (sctp/src/sctp.ts) holds that sending a packet reads. */
type _Association = {
  state: string;
  localPort: number;
  remotePort?: number;
  remoteVerificationTag: number;
  transport: { send(packet: Buffer): Promise<void> };
  sendChunk(chunk: _Chunk): Promise<void>;
};
/** A werift SCTP chunk: DATA chunks (type 0) are written field by field, others by `bytes`. */
type _Chunk = {
  type: number;
  flags: number;
  bytes: Buffer;
  userData?: Uint8Array;
  tsn?: number;
  streamId?: number;
  streamSeqNum?: number;
  protocol?: number;
};

const _SCTP_HEADER = 12;
const _DATA_HEADER = 16;

/** One SCTP packet holding `chunk` (RFC 9260 3: common header, chunk, padding to 4 bytes). */
function _packet(sctp: _Association, chunk: _Chunk): Buffer {
  let packet: Buffer;
  if (chunk.type === 0 && chunk.userData) {
    const length = _DATA_HEADER + chunk.userData.length;
    packet = Buffer.allocUnsafe(_SCTP_HEADER + length + (-length & 3));
    packet[12] = 0;
    packet[13] = chunk.flags;
    packet.writeUInt16BE(length, 14);
    packet.writeUInt32BE(chunk.tsn!, 16);
    packet.writeUInt16BE(chunk.streamId!, 20);
    packet.writeUInt16BE(chunk.streamSeqNum!, 22);
    packet.writeUInt32BE(chunk.protocol!, 24);
    packet.set(chunk.userData, 28);
    packet.fill(0, _SCTP_HEADER + length);
  } else {
    const body = chunk.bytes;
    packet = Buffer.allocUnsafe(_SCTP_HEADER + body.length);
    packet.set(body, _SCTP_HEADER);
  }
  packet.writeUInt16BE(sctp.localPort, 0);
  packet.writeUInt16BE(sctp.remotePort!, 2);
  packet.writeUInt32BE(sctp.remoteVerificationTag, 4);
  packet.writeUInt32LE(0, 8);
  packet.writeUInt32LE(crc32c(packet), 8); // werift's own (slicing by 16), over the packet itself
  return packet;
}

/**
 * werift builds each SCTP packet it sends (sctp/src/sctp.ts sendChunk, serializePacket) from
 * six or more buffers: DataChunk's `bytes` getter concatenates a header and the payload, then
 * pads by concatenating one fresh 1-byte buffer per padding byte; serializePacket concatenates
 * header, zeroed checksum and chunk to compute the CRC, then concatenates them again. Each
 * message a host sends is copied three times before encryption. This writes the packet once,
 * byte for byte the same (tested), and checksums it in place with werift's exported crc32c.
 * An upstream fix would do the same in serializePacket and DataChunk.
 */
export function leanSctpPackets(sctp: object): void {
  const association = sctp as _Association;
  const original = association.sendChunk;
  if (typeof original !== "function" || !("remoteVerificationTag" in association)) return;
  association.sendChunk = function (this: _Association, chunk: _Chunk): Promise<void> {
    if (this.state === "closed") return Promise.resolve();
    if (this.remotePort === undefined) return original.call(this, chunk); // werift throws
    try {
      return this.transport.send(_packet(this, chunk));
    } catch (error) {
      return Promise.reject(error); // as werift's async sendChunk would: its callers .catch()
    }
  };
}

/** werift's AEAD cipher (dtls/src/cipher/suites/aead.ts) once the handshake has set it up. */
type _AeadCipher = {
  blockAlgorithm: string;
  nonceImplicitLength: number;
  nonceExplicitLength: number;
  authTagLength: number;
  clientWriteKey?: Buffer;
  serverWriteKey?: Buffer;
  clientNonce?: Buffer;
  serverNonce?: Buffer;
};
/** What werift's DtlsSocket (dtls/src/socket.ts) holds that sending application data reads. */
type _DtlsSocket = {
  send(data: Buffer, addr?: unknown): Promise<void>;
  transport: { send(data: Buffer, addr?: unknown): Promise<void> | void };
  cipher: { sessionType: number; cipher?: _AeadCipher };
  dtls: {
    recordSequenceNumber: number;
    epoch: number;
    version: { major: number; minor: number };
  };
};

/** werift's SessionType.CLIENT (dtls/src/cipher/const.ts). */
const _CLIENT = 1;
const _APPLICATION_DATA = 23;
const _RECORD_HEADER = 13;

/** The AEAD write key and nonce of this side, when the cipher is the one this path knows. */
function _writeState(socket: _DtlsSocket): { key: Buffer; nonce: Buffer; c: _AeadCipher } | null {
  const c = socket.cipher.cipher;
  if (
    !c || !/-gcm$/.test(c.blockAlgorithm) || c.nonceImplicitLength !== 4 ||
    c.nonceExplicitLength !== 8 || c.authTagLength !== 16
  ) return null;
  const client = socket.cipher.sessionType === _CLIENT;
  const key = client ? c.clientWriteKey : c.serverWriteKey;
  const nonce = client ? c.clientNonce : c.serverNonce;
  return key && nonce?.length === 12 ? { key, nonce, c } : null;
}

/** One encrypted application-data record (RFC 6347 4.1, RFC 5288 3) holding `data`. */
function _record(
  socket: _DtlsSocket,
  data: Buffer,
  key: Buffer,
  nonce: Buffer,
  c: _AeadCipher,
): Buffer {
  const { dtls } = socket;
  const sequence = ++dtls.recordSequenceNumber;
  const record = Buffer.allocUnsafe(_RECORD_HEADER + 8 + data.length + 16);
  record[0] = _APPLICATION_DATA;
  record[1] = dtls.version.major;
  record[2] = dtls.version.minor;
  record.writeUInt16BE(dtls.epoch, 3);
  record.writeUIntBE(sequence, 5, 6);
  record.writeUInt16BE(8 + data.length + 16, 11);
  nonce.writeUInt16BE(dtls.epoch, 4); // the explicit nonce is epoch and sequence, as werift's
  nonce.writeUIntBE(sequence, 6, 6);
  nonce.copy(record, _RECORD_HEADER, 4, 12);
  const aad = Buffer.allocUnsafe(13); // epoch, sequence, type, version, plaintext length
  record.copy(aad, 0, 3, 11);
  aad[8] = _APPLICATION_DATA;
  aad[9] = dtls.version.major;
  aad[10] = dtls.version.minor;
  aad.writeUInt16BE(data.length, 11);
  const cipher = createCipheriv(c.blockAlgorithm as "aes-128-gcm", key, nonce, {
    authTagLength: 16,
  });
  cipher.setAAD(aad, { plaintextLength: data.length });
  const body = cipher.update(data);
  const rest = cipher.final();
  record.set(body, _RECORD_HEADER + 8);
  record.set(rest, _RECORD_HEADER + 8 + body.length);
  record.set(cipher.getAuthTag(), _RECORD_HEADER + 8 + data.length);
  return record;
}

/**
 * werift encrypts each application-data record (dtls/src/socket.ts send) by building a
 * DtlsPlaintext object, encrypting into a concatenation of nonce, ciphertext and tag
 * (cipher/suites/aead.ts encrypt), then copying that into yet another buffer behind the
 * record header (record/message/plaintext.ts serialize). This writes the record once,
 * byte for byte the same (tested); a cipher it does not know falls back to werift's send.
 * An upstream fix would encrypt straight into the serialized record.
 */
export function leanDtlsRecords(dtlsSocket: object): void {
  const socket = dtlsSocket as _DtlsSocket;
  const original = socket.send;
  if (typeof original !== "function" || !socket.dtls || !socket.cipher) return;
  socket.send = (data: Buffer, addr?: unknown): Promise<void> => {
    const state = _writeState(socket);
    if (!state) return original(data, addr);
    try {
      return Promise.resolve(
        socket.transport.send(_record(socket, data, state.key, state.nonce, state.c), addr),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/** A node:dgram socket as werift's UdpTransport (ice/src/transport.ts) holds it. */
type _UdpSocket = { setRecvBufferSize?(size: number): void };
type _IceConnection = { protocols?: Array<{ transport?: { socket?: _UdpSocket } }> };

/**
 * The receive buffer size to ask for: a WebRTC datagram is at most about 1,250 bytes (SCTP
 * MTU 1,191 or 1,200, plus DTLS and TURN framing); this leaves room for any sane path MTU.
 */
export const RECEIVE_BUFFER_BYTES = 4_096;

/**
 * Deno's node:dgram (ext/node/polyfills/internal_binding/udp_wrap.ts #receive) reads every
 * datagram into a fresh, zero-filled Uint8Array of the socket's receive buffer size, 64 KiB
 * unless set, and hands werift a view of it, so each datagram pins 64 KiB until it is
 * collected: a host receiving 2,500 SACKs a second allocated 160 MiB a second. There
 * `setRecvBufferSize(n)` only sets that allocation (to 2n on Linux, as Node reports), so this
 * asks for {@linkcode RECEIVE_BUFFER_BYTES} on each of the ICE agent's sockets once they
 * exist (they are gathered before checks begin). A longer datagram would be truncated, and
 * fail its DTLS or STUN integrity check like a damaged one. Only on Deno: in Node the call
 * sets the kernel's SO_RCVBUF instead, which must not shrink. An upstream (Deno) fix would
 * read into a reused buffer and copy out the bytes received.
 */
export function smallReceiveBuffers(connection: object, runtime = _runtime()): void {
  if (runtime !== "deno") return;
  for (const protocol of (connection as _IceConnection).protocols ?? []) {
    try {
      protocol.transport?.socket?.setRecvBufferSize?.(RECEIVE_BUFFER_BYTES);
    } catch {
      // a socket not bound yet, or closed: it keeps the default
    }
  }
}

function _runtime(): "deno" | "other" {
  return "Deno" in globalThis ? "deno" : "other";
}
