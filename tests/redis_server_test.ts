// The server contract (every PROTOCOL.md error path among it) against the Redis store and
// bus: the same tests as signal_server_test.ts, named `redis: server …`.
import { REDIS_UP, redisServer } from "./_redis.ts";
import { signalServerSuite } from "./_signal_server_suite.ts";

signalServerSuite("redis: ", redisServer, { ignore: !REDIS_UP });
