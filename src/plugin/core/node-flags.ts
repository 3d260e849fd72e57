/**
 * Node flags the gate's process runs with. They cannot be set from inside a running process nor
 * through NODE_OPTIONS, so every launcher names them: bin.ts's shebang, the Dockerfiles'
 * ENTRYPOINT, the npm demo script, the bench's gate child and the tests' child gates
 * (test/plugin/core/node-flags.test.ts checks that they agree). `bench` and bench/perf-gate.mjs,
 * started without them, restart themselves with them (src/tools/bench/node-flags.ts): their own
 * processes are load generators on the gate's cores.
 *
 * --initial-old-space-size=64: the gate keeps ~12 MB live in V8's old generation. From V8's own
 * starting limit (~36 MB here) it began incremental marking whenever the room left under the limit
 * fell below the young generation's capacity (16 MB), which at saturation was a mark-compact every
 * 0.2 s (45–51 in 10 s, bench/perf-gate.mjs with --trace-gc). From a 64 MB start: 9 in 10 s and
 * ~8 % less CPU per frame; the price is up to ~50 MB more resident memory.
 */
export const GATE_NODE_FLAGS: readonly string[] = Object.freeze(['--initial-old-space-size=64']);

const nameOf = (flag: string) => flag.split('=')[0];

/** The gate flags this process was started without (a flag given with another value counts as set). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map(nameOf));
  return GATE_NODE_FLAGS.filter((f) => !given.has(nameOf(f)));
}
