/**
 * Shared plumbing of the gate's integrity tests on a real broker: broker check, unique names,
 * configuration, producing test crops, waiting for the group to drain and reading every outcome
 * back from the output and DLQ topics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { buildConfig, type Config } from '../../src/plugin/config/load.js';
import { createLogger, type Logger } from '../../src/plugin/core/log.js';
import { GATE_NODE_FLAGS } from '../../src/plugin/core/node-flags.js';
import { packageRoot } from '../../src/plugin/core/paths.js';
import { createKafkaClient } from '../../src/plugin/kafka/client.js';
import type { AdminPort, KafkaClient, KafkaRecord, OutRecord } from '../../src/plugin/kafka/port.js';
import { createCodec, embeddedRegistry, type Topics } from '../../src/plugin/pipeline/codecs.js';
import type { AvroCodec } from '../../src/schemas/codec.js';
import { deadLetterType, faceQualityType, type DeadLetter, type FaceQuality } from '../../src/schemas/index.js';
import { CropFactory, KIND_HEADER, loadFaceSources, type BadKind, type CropMessage } from './crops.js';
import type { FixtureModels } from './fixture-models.js';

// CI starts a broker (deploy/kafka/broker.sh start) before the tests; without one they fail.
export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);

export async function assertBroker(): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'integrity-probe', connectionTimeout: 2000, retry: { retries: 1 }, logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (err) {
    throw new Error(`No Kafka broker reachable at ${brokers.join(',')} (${(err as Error).message}): start one with 'deploy/kafka/broker.sh start' or set KAFKA_BROKERS`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The Kafka clients behind the port (`kafka.client`); the integrity suite runs every test on each. */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const;
export type KafkaClientKind = (typeof KAFKA_CLIENTS)[number];

/** `client`: the library every gate of the run uses (in-process and child gates) and the test's own producer and readers. */
export interface RunNames { run: string; topics: Topics; groupId: string; client: KafkaClientKind }

/** Fresh topic and group names per test, so tests never see each other's records or offsets. */
export function uniqueNames(prefix: string, client: KafkaClientKind): RunNames {
  const run = `${prefix}-${client === 'kafkajs' ? 'kjs' : 'plt'}-${randomUUID().slice(0, 8)}`;
  return { run, client, groupId: `${run}-gate`, topics: { input: `${run}-in`, output: `${run}-out`, escalation: `${run}-esc`, dlq: `${run}-dlq` } };
}

export function testClient(clientId: string, kind: KafkaClientKind, logger?: Logger, brokerList: string[] = brokers): KafkaClient {
  return createKafkaClient(kind, { brokers: brokerList, clientId, logger, maxWaitTimeMs: 250 });
}

/** Logs of in-process gates: warnings and errors only, unless TEST_LOG_LEVEL says otherwise. */
export function testLogger(): Logger {
  return createLogger(process.env.TEST_LOG_LEVEL ?? 'warn');
}

/** Every key a test gate needs, as flat config keys (the same map feeds YAML for child gates). */
export function gateSettings(names: RunNames, fx: FixtureModels, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'kafka.brokers': brokers,
    'kafka.client': names.client,
    'kafka.clientId': names.run,
    'kafka.groupId': names.groupId,
    'kafka.inputTopic': names.topics.input,
    'kafka.outputTopic': names.topics.output,
    'kafka.escalationTopic': names.topics.escalation,
    'kafka.dlqTopic': names.topics.dlq,
    'kafka.sessionTimeoutMs': 6000,
    'inference.maxBatch': 16,
    'inference.workers': 1,
    // Borderline frames get their final event from the regressor: no escalation stage runs here.
    'gate.escalate': false,
    'log.level': process.env.TEST_LOG_LEVEL ?? 'warn',
    ...fx.overrides,
    ...extra,
  };
}

/** Env is left out on purpose: a developer's DIFFIQA_GATE__* must not change what is tested. */
export function gateConfig(names: RunNames, fx: FixtureModels, extra: Record<string, unknown> = {}): Config {
  return buildConfig({}, {}, gateSettings(names, fx, extra));
}

/** Flat keys → nested object, the shape of a YAML config file. */
export function nestSettings(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

/**
 * Crops for one run: LFW faces (landmarks cached across test files in the OS temp folder, since
 * detection is the slow part) and a factory that encodes on the run's input subject.
 */
export async function cropFactory(names: RunNames, fx: FixtureModels, maxMessageBytes: number, opts: { landmarks?: boolean } = {}): Promise<{ factory: CropFactory; codec: AvroCodec }> {
  const sources = await loadFaceSources({ count: 50, cacheFile: path.join(os.tmpdir(), 'diffiqa-integrity-lfw-landmarks-50.json'), mirrorDir: fx.mirrorDir, modelCacheDir: fx.cacheDir });
  const codec = createCodec(await embeddedRegistry(), names.topics);
  return { factory: new CropFactory(codec, names.topics.input, sources, { maxMessageBytes, landmarks: opts.landmarks }), codec };
}

/**
 * Sends `msgs` in batches over one producer, round-robin over partitions. `pauseMs`: a fixed pause
 * after each batch; `paceMs`: batch k starts no earlier than k × paceMs after the first (a rate).
 */
export async function produce(client: KafkaClient, topic: string, msgs: CropMessage[], o: { partitions: number; batch?: number; pauseMs?: number; paceMs?: number; from?: number }): Promise<void> {
  const producer = client.producer();
  await producer.connect();
  try {
    const batch = o.batch ?? 100;
    const from = o.from ?? 0;
    const t0 = performance.now();
    for (let i = 0; i < msgs.length; i += batch) {
      const records: OutRecord[] = msgs.slice(i, i + batch).map((m, j) => ({ topic, key: m.key, value: m.value, headers: m.headers, partition: (from + i + j) % o.partitions }));
      await producer.send(records);
      if (o.pauseMs) await sleep(o.pauseMs);
      const ahead = o.paceMs ? t0 + (i / batch + 1) * o.paceMs - performance.now() : 0;
      if (ahead > 0) await sleep(ahead);
    }
  } finally {
    await producer.disconnect();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function sumCommitted(admin: AdminPort, groupId: string, topic: string): Promise<number> {
  let n = 0;
  for (const o of (await admin.committedOffsets(groupId, topic)).values()) n += Number(o);
  return n;
}

/** True when the group's committed offset equals the end offset on every partition of `topic`. */
export async function drained(admin: AdminPort, groupId: string, topic: string): Promise<boolean> {
  const [committed, end] = await Promise.all([admin.committedOffsets(groupId, topic), admin.endOffsets(topic)]);
  return [...end].every(([p, e]) => e === '0' || committed.get(p) === e);
}

export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 100): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
  return performance.now() - t0;
}

export interface InputRecord { source: string; partition: number; offset: string; kind: BadKind | 'good'; key: string }

export async function readInputs(admin: AdminPort, topic: string): Promise<InputRecord[]> {
  return (await admin.readAll(topic, { timeoutMs: 30_000 })).map((r) => ({
    source: sourceOf(r), partition: r.partition, offset: r.offset,
    kind: (r.headers[KIND_HEADER]?.toString() ?? 'good') as BadKind | 'good', key: r.key?.toString() ?? '',
  }));
}

const sourceOf = (r: Pick<KafkaRecord, 'topic' | 'partition' | 'offset'>) => `${r.topic}/${r.partition}/${r.offset}`;

export type Outcome =
  | { type: 'event'; source: string; headerSource?: string; key: string | null; event: FaceQuality }
  | { type: 'dlq'; source: string; headerSource?: string; key: string | null; dead: DeadLetter };

/** Every record on the output and DLQ topics, decoded; `source` from the record's own body. */
export async function readOutcomes(admin: AdminPort, codec: AvroCodec, topics: Topics): Promise<Outcome[]> {
  const [events, dead] = await Promise.all([admin.readAll(topics.output, { timeoutMs: 30_000 }), admin.readAll(topics.dlq, { timeoutMs: 30_000 })]);
  const out: Outcome[] = [];
  for (const r of events) {
    const event = await codec.decode<FaceQuality>(r.value!, faceQualityType);
    out.push({ type: 'event', source: sourceOf(event.source), headerSource: r.headers['diffiqa-source']?.toString(), key: r.key?.toString() ?? null, event });
  }
  for (const r of dead) {
    const d = await codec.decode<DeadLetter>(r.value!, deadLetterType);
    out.push({ type: 'dlq', source: sourceOf(d), headerSource: r.headers['diffiqa-source']?.toString(), key: r.key?.toString() ?? null, dead: d });
  }
  return out;
}

export interface Tally {
  /** Inputs without any outcome. */
  missing: InputRecord[];
  /** Outcomes per input source, for inputs with more than one. */
  duplicates: Map<string, number>;
  /** Outcomes that name no input of the run. */
  strays: Outcome[];
  bySource: Map<string, Outcome[]>;
}

export function tally(inputs: InputRecord[], outcomes: Outcome[]): Tally {
  const bySource = new Map<string, Outcome[]>(inputs.map((i) => [i.source, []]));
  const strays: Outcome[] = [];
  for (const o of outcomes) {
    const list = bySource.get(o.source);
    if (list) list.push(o); else strays.push(o);
  }
  const missing = inputs.filter((i) => bySource.get(i.source)!.length === 0);
  const duplicates = new Map([...bySource].filter(([, l]) => l.length > 1).map(([s, l]) => [s, l.length]));
  return { missing, duplicates, strays, bySource };
}

/** The built CLI: child-process tests run what users run, so the build must exist. */
export function builtBin(): string {
  const bin = path.join(packageRoot(), 'dist', 'src', 'plugin', 'cli', 'bin.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run 'npm run build' first (npm test does)`);
  return bin;
}

export interface ChildGate {
  proc: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code (signal name if killed) once the process is gone. */
  exited: Promise<number | string>;
  waitForLog(msg: string, timeoutMs: number): Promise<void>;
}

/** `diffiqa-gate run --config FILE` as a child process, its logs kept for assertions. */
export function spawnGate(configFile: string, env: Record<string, string>, opts: { cpus?: string } = {}): ChildGate {
  const argv = [process.execPath, ...GATE_NODE_FLAGS, builtBin(), 'run', '--config', configFile];
  // taskset execs the node binary in place: the child's pid (read for /proc/<pid>/status) is the gate's.
  const [cmd, ...args] = opts.cpus === undefined ? argv : ['taskset', '--cpu-list', opts.cpus, ...argv];
  const proc = spawn(cmd, args, {
    cwd: packageRoot(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  proc.stdout!.resume();
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    proc,
    stderr: () => err,
    exited,
    async waitForLog(msg, timeoutMs) {
      let gone = false;
      void exited.then(() => { gone = true; });
      await waitFor(`log line "${msg}" from the child gate`, () => {
        if (gone && !err.includes(`"msg":"${msg}"`)) throw new Error(`child gate exited before logging "${msg}":\n${err.slice(-4000)}`);
        return err.includes(`"msg":"${msg}"`);
      }, timeoutMs, 50);
    },
  };
}

/** The JSON log lines of a child gate with the given msg. */
export function logLines(stderr: string, msg: string): Record<string, unknown>[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } }).filter((l) => l.msg === msg);
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
