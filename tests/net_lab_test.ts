// The network lab itself: it leaves nothing behind, and clears what a killed run left.
import assert from "node:assert/strict";
import { NetLab, NETNS_REQUIRED, netnsMissing, removeStaleNamespaces } from "./_netns.ts";

async function _namespaces(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0]).filter(
    Boolean,
  );
}

Deno.test("a network lab removes its namespaces and processes when closed, and those a killed run left", async () => {
  const missing = await netnsMissing();
  if (missing) {
    if (NETNS_REQUIRED) throw new Error(`network namespaces required: ${missing}`);
    return;
  }
  const lab = await NetLab.create();
  const names = Object.values(lab.ns);
  assert.ok(names.every((n) => n.startsWith(`shoalnet-${Deno.pid}-`)));
  const sleeper = lab.spawn("services", ["sleep", "600"]);
  await lab.close();
  assert.ok((await sleeper.child.status).signal !== null, "the process was stopped");
  const left = await _namespaces();
  assert.deepEqual(names.filter((n) => left.includes(n)), []);

  // A run that died without cleaning up: its pid is gone (above the kernel's pid limit, so
  // never alive), its namespace is not.
  const dead = 4_194_305;
  const stale = `shoalnet-${dead}-0-r`;
  await new Deno.Command("ip", { args: ["netns", "add", stale] }).output();
  assert.ok((await _namespaces()).includes(stale));
  assert.ok(await removeStaleNamespaces() >= 1);
  assert.ok(!(await _namespaces()).includes(stale));
});
