/**
 * Bundles the browser pages' scripts with `deno bundle` (platform `browser`): every
 * import, the npm ones (`zod`, `@logtape/logtape`) included, ends up in one JavaScript file
 * per page. The signaling server calls {@linkcode buildWeb} at start and keeps the result
 * in memory; `deno task build:web` writes the same files to `web/dist/` (git-ignored).
 *
 * `deno bundle` is a CLI command (the in-process `Deno.bundle` needs `--unstable-bundle`),
 * so this runs the same `deno` executable as a child process: it needs `--allow-run`.
 *
 * @example
 * ```ts ignore
 * import { buildWeb } from "./build.ts";
 * const assets = await buildWeb();
 * console.log([...assets.keys()]); // ["host.js", "view.js"]
 * ```
 *
 * @module
 */

/** The page scripts: output file name → entry module. */
export const WEB_ENTRIES: Readonly<Record<string, URL>> = {
  "host.js": new URL("./host.ts", import.meta.url),
  "view.js": new URL("./view.ts", import.meta.url),
};

const CONFIG = new URL("../deno.json", import.meta.url);

/** `deno bundle` failed: `stderr` says why. */
export class BundleError extends Error {
  /** Always `"BundleError"`. */
  override name = "BundleError";
  /** Makes the error for `entry` from what `deno bundle` printed. */
  constructor(
    /** The entry module that failed. */
    readonly entry: string,
    /** What `deno bundle` printed on stderr. */
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`deno bundle ${entry} failed: ${stderr.trim().split("\n").slice(-3).join(" ")}`, options);
  }
}

/** Options of {@linkcode bundle} and {@linkcode buildWeb}. */
export interface BundleOptions {
  /** Minify the output (default `true`). */
  minify?: boolean;
  /** Kills `deno bundle` when aborted. */
  signal?: AbortSignal;
}

/** Bundles one browser entry module with `deno bundle --platform browser`; returns the JS. */
export async function bundle(entry: URL, options: BundleOptions = {}): Promise<string> {
  const args = ["bundle", "--quiet", "--platform", "browser", "--config", CONFIG.pathname];
  if (options.minify ?? true) args.push("--minify");
  args.push(entry.pathname);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: new URL("..", CONFIG).pathname,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: options.signal,
    }).output();
  } catch (cause) {
    throw new BundleError(entry.pathname, String(cause), { cause });
  }
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new BundleError(entry.pathname, stderr);
  return new TextDecoder().decode(output.stdout);
}

/** Bundles every entry (`entries`, default {@linkcode WEB_ENTRIES}) in parallel. */
export async function buildWeb(
  entries: Readonly<Record<string, URL>> = WEB_ENTRIES,
  options: BundleOptions = {},
): Promise<Map<string, string>> {
  const built = await Promise.all(
    Object.entries(entries).map(async ([name, entry]) => [name, await bundle(entry, options)]),
  );
  return new Map(built as [string, string][]);
}

if (import.meta.main) {
  const outDir = new URL("./dist/", import.meta.url);
  const started = performance.now();
  const assets = await buildWeb();
  await Deno.mkdir(outDir, { recursive: true });
  for (const [name, js] of assets) {
    // Written beside, then renamed: a server or test reading the file never sees half of it.
    const tmp = new URL(`.${name}.${crypto.randomUUID()}.tmp`, outDir);
    await Deno.writeTextFile(tmp, js);
    await Deno.rename(tmp, new URL(name, outDir));
    console.log(`web/dist/${name}  ${(js.length / 1024).toFixed(0)} KiB`);
  }
  console.log(`built in ${Math.round(performance.now() - started)} ms`);
}
