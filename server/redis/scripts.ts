/**
 * The Redis key layout of the signaling server and the Lua scripts that change it
 * atomically. Times inside scripts come from Redis's own clock (`TIME`), so that key
 * expiry and the session index agree whichever server wrote them.
 *
 * @module
 */

/**
 * Where everything lives under one prefix (default `shoal:`).
 *
 * @example
 * ```ts
 * import { RedisKeys } from "./scripts.ts";
 * const keys = new RedisKeys("shoal:");
 * console.assert(keys.session("S1") === "shoal:s:S1");
 * console.assert(keys.channel("S1", "v_x") === "shoal:to:S1:v_x");
 * ```
 */
export class RedisKeys {
  /** The layout of keys that start with `prefix` (e.g. `shoal:`). */
  constructor(readonly prefix: string) {}
  /** HASH: the session record, plus `host` (peer id) and `seq` (join counter). */
  session(sessionId: string): string {
    return `${this.prefix}s:${sessionId}`;
  }
  /** The five keys of a session, in the order the scripts take them. */
  sessionKeys(sessionId: string): string[] {
    const s = this.session(sessionId);
    return [s, `${s}:v`, `${s}:l`, `${s}:hs`, `${s}:c`];
  }
  /** ZSET: session id → expiry time (ms, Redis clock), `inf` while a connection is open. */
  get index(): string {
    return `${this.prefix}sessions`;
  }
  /** SET: the ids of every server that has registered and not yet been reaped. */
  get servers(): string {
    return `${this.prefix}servers`;
  }
  /** STRING with a TTL: the server is alive while it exists. */
  heartbeat(serverId: string): string {
    return `${this.prefix}srv:${serverId}:hb`;
  }
  /** SET of `role sessionId peerId`: the connections a server holds. */
  owned(serverId: string): string {
    return `${this.prefix}srv:${serverId}:peers`;
  }
  /** STRING with a TTL: the lock of whoever reaps a dead server. */
  reaping(serverId: string): string {
    return `${this.prefix}srv:${serverId}:reap`;
  }
  /** A limit counter or lease set of `counters.ts` (`create:ADDRESS`, `ws:ADDRESS`, …). */
  limit(key: string): string {
    return `${this.prefix}lim:${key}`;
  }
  /** Pub/sub channel of one peer. */
  channel(sessionId: string, peerId: string): string {
    return `${this.prefix}to:${sessionId}:${peerId}`;
  }
}

const NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)";

/**
 * Lua sources. Session scripts take `KEYS` = {@link RedisKeys.sessionKeys} (s, v, l, hs, c)
 * followed by the index and, where named, the server's owned set.
 */
export const SCRIPTS = {
  /** KEYS s, index; ARGV ttlMs, sessionId, field, value, … */
  create: `${NOW}
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ARGV[2])
return 1`,
  /** KEYS s, v, l, hs, c, index, owned; ARGV sessionId, peerId, entry */
  open: `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[5], ARGV[2])
redis.call('SADD', KEYS[7], ARGV[3])
for i = 1, 5 do redis.call('PERSIST', KEYS[i]) end
redis.call('ZADD', KEYS[6], 'inf', ARGV[1])
return 1`,
  /** KEYS s, v, l, hs, c, index, owned; ARGV sessionId, peerId, entry, ttlMs */
  close: `${NOW}
redis.call('SREM', KEYS[7], ARGV[3])
redis.call('SREM', KEYS[5], ARGV[2])
if redis.call('SCARD', KEYS[5]) > 0 or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
redis.call('ZADD', KEYS[6], now + tonumber(ARGV[4]), ARGV[1])
return 1`,
  /** KEYS s; ARGV peerId → the previous host or nil */
  claimHost: `if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local previous = redis.call('HGET', KEYS[1], 'host')
redis.call('HSET', KEYS[1], 'host', ARGV[1])
return previous`,
  /** KEYS s; ARGV peerId → 1 when it was the host */
  releaseHost: `if redis.call('HGET', KEYS[1], 'host') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'host')
  return 1
end
return 0`,
  /** KEYS s, v, l; ARGV peerId, label, maxViewers → 1 when added */
  addViewer: `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1`,
  /** KEYS v, l, hs; ARGV peerId → 1 when it was present */
  removeViewer: `redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])`,
  /** KEYS v, l → peerId, label, peerId, label, … in join order */
  viewers: `local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for i, id in ipairs(ids) do
  out[2 * i - 1] = id
  out[2 * i] = redis.call('HGET', KEYS[2], id) or ''
end
return out`,
  /** KEYS index → how many sessions have not expired */
  count: `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
return redis.call('ZCARD', KEYS[1])`,
  /** KEYS hb, owned, servers; ARGV serverId: a clean stop leaves leftovers to the reapers */
  retire: `redis.call('DEL', KEYS[1])
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[1]) end
return 1`,
  /** KEYS counter; ARGV windowMs, limit, backoffMs, maxBackoffMs: counters.ts's backoffAfter */
  limitHit: `local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[1]) redis.call('PEXPIRE', KEYS[1], ttl) end
local over = count - tonumber(ARGV[2])
if over > 0 and tonumber(ARGV[3]) > 0 then
  local stretch = math.floor(math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(over - 1, 40)))
  if stretch > ttl then ttl = stretch redis.call('PEXPIRE', KEYS[1], ttl) end
end
return {count, ttl}`,
  /** KEYS counter: its count and time left */
  limitPeek: `local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if count == 0 or ttl < 0 then return {0, 0} end
return {count, ttl}`,
  /** KEYS leases (ZSET holder → expiry); ARGV holder, limit, ttlMs */
  limitAcquire: `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[3])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`,
  /** KEYS leases; ARGV holder, ttlMs: extends a lease that is still held */
  limitRefresh: `${NOW}
local ttl = tonumber(ARGV[2])
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + ttl, ARGV[1]) == 1 and redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1`,
} as const;

/** The name of a script in {@link SCRIPTS}. */
export type ScriptName = keyof typeof SCRIPTS;

/** An entry of a server's owned set: `role sessionId peerId` (ids never hold spaces). */
export function ownedEntry(role: "host" | "viewer", sessionId: string, peerId: string): string {
  return `${role} ${sessionId} ${peerId}`;
}

/** Parses an {@link ownedEntry}; `undefined` when malformed. */
export function parseOwnedEntry(
  entry: string,
): { role: "host" | "viewer"; sessionId: string; peerId: string } | undefined {
  const [role, sessionId, peerId] = entry.split(" ");
  if ((role !== "host" && role !== "viewer") || !sessionId || !peerId) return undefined;
  return { role, sessionId, peerId };
}
