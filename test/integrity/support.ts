/**
 * Plumbing shared by the crash, exactly-once, broker-restart, overload, hostile and reload tests: child
 * gates that a test may kill at any moment, reading a child's memory, checking that duplicated
 * outcomes agree, and the suite summary (test/integrity/SUMMARY.md).
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { cacheDir } from '../../src/plugin/core/paths.js';
import { afterAll, beforeAll } from 'vitest';
import { prepareFixtureModels, type FixtureModels } from '../helpers/fixture-models.js';
import { startGate, type GateApp } from '../../src/plugin/app/gate-app.js';
import type { Config } from '../../src/plugin/config/load.js';
import type { FaceQuality } from '../../src/schemas/index.js';
import {
  assertBroker, builtBin, cropFactory, drained, gateSettings, nestSettings, produce, readInputs, readOutcomes, spawnGate, tally, tempDir, testClient,
  testLogger, waitFor, type ChildGate, type KafkaClientKind, type InputRecord, type Outcome, type RunNames, type Tally,
} from '../helpers/gate-harness.js';

/** Child gates started by a test file; `killAll` in afterAll so a failed test leaves none in the group. */
export class Children {
  readonly #all: ChildGate[] = [];
  readonly #env: Record<string, string>;

  constructor(env: Record<string, string>) {
    this.#env = env;
  }

  /** `cpus`: a taskset CPU list the gate (every thread of it) is confined to. */
  start(configFile: string, opts: { cpus?: string } = {}): ChildGate {
    const child = spawnGate(configFile, this.#env, opts);
    this.#all.push(child);
    return child;
  }

  /** Every child's stderr, oldest child first: for diagnostics when an assertion fails. */
  logs(): string[] {
    return this.#all.map((c) => c.stderr());
  }

  killAll(): void {
    for (const c of this.#all) if (alive(c)) c.proc.kill('SIGKILL');
  }
}

export const alive = (c: ChildGate) => c.proc.exitCode === null && c.proc.signalCode === null;

/** A YAML config for a child gate (same keys as in-process gates), written into `dir`. */
export async function writeGateConfig(dir: string, names: RunNames, fx: FixtureModels, extra: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, `${names.run}.yaml`);
  await writeFile(file, stringify(nestSettings(gateSettings(names, fx, { 'log.level': 'info', ...extra }))));
  return file;
}

/** SIGKILL: no drain, no leave-group, nothing flushed; resolves once the process is gone. */
export async function killHard(child: ChildGate): Promise<void> {
  child.proc.kill('SIGKILL');
  const how = await child.exited;
  if (how !== 'SIGKILL') throw new Error(`child gate ended with ${how} before it could be killed:\n${child.stderr().slice(-3000)}`);
}

/** SIGTERM and the exit code (or 'still running' after `waitMs`). */
export async function terminate(child: ChildGate, waitMs: number): Promise<number | string> {
  child.proc.kill('SIGTERM');
  return Promise.race([child.exited, new Promise<string>((r) => setTimeout(() => r('still running'), waitMs))]);
}

/** Resident set of a process, bytes (VmRSS in /proc/<pid>/status); undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until the child logged `msg` at least `count` times in all. */
export function waitForLogCount(child: ChildGate, msg: string, count: number, timeoutMs: number): Promise<number> {
  return waitFor(`${count}× "${msg}" in the child's log`, () => child.stderr().split(`"msg":"${msg}"`).length - 1 >= count, timeoutMs, 50);
}

/**
 * Outcomes of one input that disagree: different kinds (event vs dead letter), different
 * decisions or scores, different reason codes. Redone work must reach the same verdict.
 */
export function contradictions(t: Tally, scoreTolerance = 1e-4): { source: string; outcomes: string[] }[] {
  const out: { source: string; outcomes: string[] }[] = [];
  for (const source of t.duplicates.keys()) {
    const list = t.bySource.get(source)!;
    const first = list[0];
    const differs = list.some((o) => o.type !== first.type
      || (o.type === 'event' && first.type === 'event' && (o.event.decision !== first.event.decision || Math.abs(o.event.score - first.event.score) > scoreTolerance))
      || (o.type === 'dlq' && first.type === 'dlq' && o.dead.reasonCode !== first.dead.reasonCode));
    if (differs) out.push({ source, outcomes: list.map(describeOutcome) });
  }
  return out;
}

export function describeOutcome(o: Outcome): string {
  return o.type === 'event' ? `event ${o.event.decision} ${o.event.score}` : `dlq ${o.dead.reasonCode}`;
}

export const sum = (xs: Iterable<number>) => [...xs].reduce((a, b) => a + b, 0);

// ---- Suite summary ------------------------------------------------------------------------------

export interface SummaryRow {
  /** The Kafka client the gates ran on: the suite runs every test on each. */
  client: KafkaClientKind;
  test: string;
  /** Kinds of input or fault the test tried. */
  kinds: number;
  /** Faults injected: kills, broker stops, hostile messages, overload seconds… (`faultsNote` says which). */
  faults: number;
  faultsNote: string;
  inputs: number;
  lost: number;
  duplicates: number;
  notes: string;
}

export interface SummaryData { rows: Record<string, SummaryRow>; sections: Record<string, string> }

// Tests must not dirty the checkout: the table goes to the cache unless asked for
// (DIFFIQA_INTEGRITY_SUMMARY=test/integrity/SUMMARY.md refreshes the committed copy).
const summaryFile = process.env.DIFFIQA_INTEGRITY_SUMMARY
  ? path.resolve(process.env.DIFFIQA_INTEGRITY_SUMMARY)
  : path.join(cacheDir(), 'integrity', 'SUMMARY.md');
const DATA_MARK = '<!-- summary-data ';

/**
 * Merges this test's row (and optional extra markdown section) into SUMMARY.md, keeping other
 * tests' rows: each file runs in its own worker and only knows its own results. vitest runs the
 * files one after another (fileParallelism false), so read-modify-write does not race.
 */
export async function recordSummary(row: SummaryRow, section?: { title: string; markdown: string }): Promise<string> {
  const data = await readSummaryData();
  data.rows[`${row.test} · ${row.client}`] = row;
  if (section) data.sections[section.title] = section.markdown;
  const text = renderSummary(data);
  const tmp = `${summaryFile}.${process.pid}.tmp`;
  await mkdir(path.dirname(summaryFile), { recursive: true });
  await writeFile(tmp, text);
  await rename(tmp, summaryFile);
  return text;
}

async function readSummaryData(): Promise<SummaryData> {
  try {
    const text = await readFile(summaryFile, 'utf8');
    const at = text.indexOf(DATA_MARK);
    if (at >= 0) {
      const data = JSON.parse(text.slice(at + DATA_MARK.length, text.indexOf(' -->', at))) as SummaryData;
      // Rows written before the suite ran on both clients were kafkajs rows, keyed by test alone.
      const rows = Object.values(data.rows).map((r) => ({ ...r, client: r.client ?? 'kafkajs' }));
      return { ...data, rows: Object.fromEntries(rows.map((r) => [`${r.test} · ${r.client}`, r])) };
    }
  } catch {
    // First run, or a hand-edited file: start afresh.
  }
  return { rows: {}, sections: {} };
}

export function summaryTable(rows: SummaryRow[]): string {
  const lines = [
    '| test | client | kinds tried | faults injected | inputs | inputs lost | duplicates | notes |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | --- |',
    ...rows.map((r) => `| ${r.test} | ${r.client} | ${r.kinds} | ${r.faults} (${r.faultsNote}) | ${r.inputs} | ${r.lost} | ${r.duplicates} | ${r.notes} |`),
  ];
  return lines.join('\n');
}

function renderSummary(data: SummaryData): string {
  const rows = Object.values(data.rows).sort((a, b) => a.test.localeCompare(b.test) || a.client.localeCompare(b.client));
  const parts = [
    '# Integrity suite summary',
    '',
    'Written by the integrity tests (`npx vitest run test/integrity`) on the real local broker; each',
    'test replaces its own row. Numbers are from the last run of each test on the machine that ran it.',
    '',
    summaryTable(rows),
    '',
    ...Object.entries(data.sections).sort(([a], [b]) => a.localeCompare(b)).flatMap(([title, md]) => [`## ${title}`, '', md, '']),
    `${DATA_MARK}${JSON.stringify(data)} -->`,
    '',
  ];
  return parts.join('\n');
}

export interface ChildGateSuite {
  /** Fixture models (tiny regressor) and the env a child gate needs. */
  readonly fx: FixtureModels;
  /** A temporary folder for config files, removed after the file's tests. */
  readonly dir: string;
  readonly children: Children;
}

/**
 * Registers what every child-process gate test file needs: a built CLI, a reachable broker,
 * fixture models and a temp folder before its tests; every child killed and everything removed
 * after. Read the fields inside tests (they are set in beforeAll).
 */
export function childGateSuite(tempPrefix: string): ChildGateSuite {
  let fx: FixtureModels | undefined;
  let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
  let children: Children | undefined;
  beforeAll(async () => {
    builtBin();
    await assertBroker();
    fx = await prepareFixtureModels();
    tmp = await tempDir(tempPrefix);
    children = new Children(fx.env);
  });
  afterAll(async () => {
    children?.killAll();
    await tmp?.cleanup();
    await fx?.cleanup();
  });
  return {
    get fx() { return fx!; },
    get dir() { return tmp!.dir; },
    get children() { return children!; },
  };
}

/**
 * Registers what every in-process gate test file (startGate in the test's own process) needs: a
 * reachable broker and the fixture models before its tests, with DIFFIQA_CACHE pointing at them
 * (in-process gates resolve models through the cache that holds the fixture regressor); removed
 * after. Read `fx` inside tests (it is set in beforeAll).
 */
export function inProcessGateSuite(): { readonly fx: FixtureModels } {
  let fx: FixtureModels | undefined;
  beforeAll(async () => {
    await assertBroker();
    fx = await prepareFixtureModels();
    process.env.DIFFIQA_CACHE = fx.cacheDir;
  });
  afterAll(async () => {
    delete process.env.DIFFIQA_CACHE;
    await fx?.cleanup();
  });
  return { get fx() { return fx!; } };
}

/**
 * One in-process gate run on the real broker: the input topic with `partitions`, `count` good crops
 * produced (paced when `paceMs`) while `during(app)` acts on the running gate, every input committed,
 * a clean stop; then what came out, tallied against the inputs.
 */
export async function runInProcessGate(
  fx: FixtureModels, names: RunNames, cfg: Config,
  o: { count: number; partitions: number; paceMs?: number; during?: (app: GateApp) => Promise<void> },
): Promise<{ app: GateApp; t: Tally; inputs: InputRecord[]; events: FaceQuality[] }> {
  const client = testClient(names.run, names.client);
  const admin = client.admin();
  const { factory, codec } = await cropFactory(names, fx, cfg.get('kafka.maxMessageBytes'));
  try {
    await admin.createTopics([{ topic: names.topics.input, partitions: o.partitions }]);
    const app = await startGate(cfg, client, testLogger());
    let clean = false;
    try {
      const producing = produce(client, names.topics.input, await factory.stream(names.run, o.count, 0), { partitions: o.partitions, batch: 20, paceMs: o.paceMs });
      await o.during?.(app);
      await producing;
      await waitFor('every input to be committed', () => drained(admin, names.groupId, names.topics.input), 90_000);
    } finally {
      clean = await app.shutdown(10_000);
    }
    if (!clean) throw new Error('the gate did not stop cleanly');
    const inputs = await readInputs(admin, names.topics.input);
    const outcomes = await readOutcomes(admin, codec, names.topics);
    return { app, t: tally(inputs, outcomes), inputs, events: outcomes.flatMap((x) => (x.type === 'event' ? [x.event] : [])) };
  } finally {
    await admin.close();
  }
}
