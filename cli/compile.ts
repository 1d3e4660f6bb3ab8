/**
 * `deno task compile`: `deno compile` of `cli/main.ts` into `dist/shoal`, with the
 * permissions the commands need and no more ({@link BINARY_PERMISSIONS}).
 *
 * `deno compile` builds on a runtime binary, `denort`, that it downloads from
 * dl.deno.land (and caches under `DENO_DIR/dl/`) unless `DENORT_BIN` names one. Where
 * neither a cached copy, nor `DENORT_BIN`, nor dl.deno.land is to be had, this fails at
 * once with one sentence saying so, and exits 1.
 *
 * @module
 */
import { flagTable, HELP_FLAG, helpText, parseFlags, UsageError } from "./flags.ts";

/**
 * What the binary may do: `net` (the server, WebSockets, WebRTC over UDP), `env` (npm
 * packages read the environment when loaded), `sys=networkInterfaces` (ICE gathers local
 * addresses), `run` (`host --exec` runs `sh`; `demo` and `bench` start the binary itself
 * as viewer processes), `write` (`demo --json`, `bench --json`). No `read`: the binary
 * reads nothing from disk (so `shoal signal` serves the API without the web pages).
 */
export const BINARY_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-env",
  "--allow-sys=networkInterfaces",
  "--allow-run",
  "--allow-write",
];

/**
 * V8's young generation capped at 8 MiB per semi-space (V8 sizes it by the machine's memory:
 * here a stampede of 100 handshakes grew the heap from 37 to 100 MiB and left it there).
 * Measured with 100 ready viewers: 668 KiB of host RSS per viewer instead of 1,133, the same
 * join times and broadcast CPU (bench/RESULTS.md). The `host`, `demo` and `bench` tasks pass
 * the same flag.
 */
export const HOST_V8_FLAGS = "--v8-flags=--max-semi-space-size=8";

const FLAGS = flagTable({
  output: { type: "string", help: "where to write the binary", default: "dist/shoal" },
  ...HELP_FLAG,
});

const ROOT = new URL("..", import.meta.url);
const TARGET = Deno.build.target;
const VERSION = Deno.version.deno;
const RELEASE = `https://github.com/denoland/deno/releases/tag/v${VERSION}`;
const ZIP = `denort-${TARGET}.zip`;

/** A failure to report as one sentence. */
class _Missing extends Error {}

/** Where `deno` caches what it downloads (`DENO_DIR`). */
async function _denoDir(): Promise<string | undefined> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) return undefined;
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

async function _isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Whether dl.deno.land answers for this version's denort, within 5 s. */
async function _downloadable(): Promise<boolean> {
  try {
    const res = await fetch(`https://dl.deno.land/release/v${VERSION}/${ZIP}`, {
      method: "HEAD",
      signal: AbortSignal.timeout(5_000),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Makes sure `deno compile` will find a denort: `DENORT_BIN`, the cache, or the network. */
export async function checkDenort(): Promise<string> {
  const given = Deno.env.get("DENORT_BIN");
  if (given) {
    if (await _isFile(given)) return `DENORT_BIN=${given}`;
    throw new _Missing(
      `DENORT_BIN=${given} is not a file: point it at the denort binary of deno ${VERSION} ` +
        `(${ZIP} from ${RELEASE}, unzipped)`,
    );
  }
  const dir = await _denoDir();
  const cached = dir ? `${dir}/dl/release/v${VERSION}/${ZIP}` : undefined;
  if (cached && await _isFile(cached)) return `cached ${cached}`;
  if (await _downloadable()) return `download from dl.deno.land`;
  throw new _Missing(
    `deno compile needs the denort runtime of deno ${VERSION} for ${TARGET}, which is not ` +
      `cached and cannot be downloaded from dl.deno.land here: fetch ${ZIP} from ${RELEASE} ` +
      `on a connected machine, unzip it, and run again with DENORT_BIN=/path/to/denort`,
  );
}

/** Runs `deno compile`; on failure, throws the last meaningful line of what it said. */
async function _compile(output: string): Promise<void> {
  const args = ["compile", ...BINARY_PERMISSIONS, HOST_V8_FLAGS, "--output", output, "cli/main.ts"];
  console.error(`shoal compile: deno ${args.join(" ")}`);
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1" },
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(out.stderr);
  if (out.success) return;
  const lines = said.split("\n").map((l) => l.trim()).filter((l) => l && !/^\d+:|^Stack/.test(l));
  const cause = lines.find((l) => l.startsWith("error:")) ?? lines.at(-1) ?? "no output";
  throw new _Missing(`deno compile failed: ${cause.replace(/^error:\s*/, "")}`);
}

/** Checks the binary runs: it must say `shoal <version>` (a wrong DENORT_BIN would not). */
async function _smoke(output: string): Promise<string> {
  const out = await new Deno.Command(new URL(output, ROOT).pathname, {
    args: ["--version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !said.startsWith("shoal ")) {
    throw new _Missing(`the compiled ${output} does not run as shoal (is DENORT_BIN a denort?)`);
  }
  return said;
}

/** Runs the compile task; resolves with the exit code. */
export async function compileCommand(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(args, FLAGS);
  if (flags.help) {
    console.log(helpText("Usage: deno task compile [flags]\n\nBuilds the shoal binary.", FLAGS));
    return 0;
  }
  const output = flags.output;
  try {
    const source = await checkDenort();
    console.error(`shoal compile: denort: ${source}`);
    await _compile(output);
    const version = await _smoke(output);
    console.error(`shoal compile: built ${output} (${version}); try: ${output} demo --viewers 10`);
    return 0;
  } catch (error) {
    if (!(error instanceof _Missing)) throw error;
    console.error(`shoal compile: ${error.message}.`);
    return 1;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await compileCommand(Deno.args));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`shoal compile: ${error.message}`);
    Deno.exit(2);
  }
}
