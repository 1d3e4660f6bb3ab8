// The server contract against the in-memory store and bus (the default).
import { signalServerSuite } from "./_signal_server_suite.ts";
import { testServer } from "./_signal_helpers.ts";

signalServerSuite("", (options) => Promise.resolve(testServer(options)));
