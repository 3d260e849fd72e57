import { randomUUID } from 'node:crypto';
import { createKafkajsClient } from '../../plugin/kafka/kafkajs.js';
import type { KafkaClientKind } from '../../plugin/kafka/client.js';
import { createCodec, embeddedRegistry } from '../../plugin/pipeline/codecs.js';
import type { BenchContext } from './context.js';
import { GateChild, childCpuMs, threadsPerFrame } from './child.js';
import type { ThreadSplit } from './split.js';
import type { BenchFace } from './faces.js';
import type { BenchModel } from './models.js';
import { FinalWatcher, Feeder, type Outcome } from './traffic.js';
import { median, percentile, round, sleep } from './stats.js';
import { summariseProfile, type ProfileSummary } from './profile.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const PARTITIONS = 3;

export interface SaturationRun {
  frames: number;
  cpuMsPerFrame: number;
  /** The same CPU split by thread role (Linux /proc, 10 ms ticks; absent elsewhere). */
  threadsMsPerFrame?: ThreadSplit;
  framesPerSecond: number;
  meanBatch: number;
  pausedMs: number;
}

export interface GateRuns {
  modelId: string;
  /** The Kafka client the gate child ran on (kafka.client). */
  client: KafkaClientKind;
  provider: string;
  runs: SaturationRun[];
  /** Child CPU while idle (fetch polling, heartbeats, ORT threads parked), ms per second. */
  idleCpuMsPerSecond: number;
  latency: LatencyRow[];
  /**
   * Frames/s the gate kept up while fed at its backlog saturation rate for the latency run's length,
   * with the load generator on the same cores (what the latency loads are fractions of).
   */
  streamingFramesPerSecond?: number;
  dlq: Record<string, number>;
  duplicates: number;
  cleanStop: boolean;
  /** The gate's main thread during the saturation runs (with --profile). */
  profile?: ProfileSummary;
}

export interface LatencyRow {
  /** Fraction of the streaming saturation; the 100 % row is the run that measured it. */
  load: number;
  ratePerSecond: number;
  frames: number;
  /** Produce (captureTimestamp) → the final event's record timestamp, ms. */
  p50: number; p95: number; p99: number;
  /** Produce → arrival at the downstream consumer (adds its fetch wait), ms. */
  arrivedP99: number;
  meanBatch: number;
  /**
   * Where the time goes, from the events' own timings: before the gate's handler had the record
   * (produce, broker, fetch, waiting for the previous fetch round), inside the gate (handler to
   * event built), and per stage (each stage's time for the frame's whole chunk), medians and p99.
   */
  breakdown: { beforeGate: [number, number]; inGate: [number, number]; stages: Record<string, [number, number]> };
}

function p50p99(xs: number[]): [number, number] {
  return [round(percentile(xs, 50), 1), round(percentile(xs, 99), 1)];
}

function breakdown(got: Outcome[]): LatencyRow['breakdown'] {
  const names = [...new Set(got.flatMap((x) => Object.keys(x.stages)))];
  return {
    beforeGate: p50p99(got.map((x) => x.producedAt - x.inGateMs - x.captureTs)),
    inGate: p50p99(got.map((x) => x.inGateMs)),
    stages: Object.fromEntries(names.map((n) => [n, p50p99(got.map((x) => x.stages[n] ?? 0))])),
  };
}

export interface EndToEndOptions {
  /** The gate child's Kafka client; the load generator and the watcher stay on kafkajs, so only the gate's client differs between runs. */
  client: KafkaClientKind;
  warmup: number; frames: number; runs: number; latencyLoads: number[]; latencySeconds: number; brokers: string[];
  /** The gate without prepare and regress (bench/transport.ts). */
  transportOnly?: boolean;
}

/** The gate child's flat settings for one run: its own topics, the bench's pool shape, escalation off. */
export function childSettings(ctx: BenchContext, model: BenchModel, run: string, brokers: string[], client: KafkaClientKind = 'kafkajs'): Record<string, unknown> {
  return {
    'kafka.brokers': brokers, 'kafka.client': client, 'kafka.clientId': run, 'kafka.groupId': `${run}-gate`,
    'kafka.inputTopic': `${run}-in`, 'kafka.outputTopic': `${run}-out`, 'kafka.escalationTopic': `${run}-esc`, 'kafka.dlqTopic': `${run}-dlq`,
    'kafka.sessionTimeoutMs': 10_000,
    'models.manifests': [...ctx.cfg.get('models.manifests'), ctx.manifestPath], 'models.regressor': model.id,
    'models.detector': ctx.cfg.get('models.detector'), 'models.mirror': ctx.sharedDir,
    'inference.workers': ctx.workers, 'inference.intraOpThreads': ctx.intraOpThreads, 'inference.executionProviders': ['cpu'],
    'inference.maxBatch': ctx.maxBatch, 'inference.maxDelayMs': ctx.maxDelayMs, 'inference.maxQueue': ctx.cfg.get('inference.maxQueue'),
    'gate.inFlightPerPartition': ctx.cfg.get('gate.inFlightPerPartition'), 'gate.partitionsConcurrently': ctx.cfg.get('gate.partitionsConcurrently'),
    // Every frame gets its final event from the regressor: the escalation stage is not under test.
    'gate.escalate': false, 'log.level': 'warn',
  };
}

/**
 * The real gate in a child process against the real broker: saturation runs (a backlog produced
 * as fast as possible; the child's CPU per frame and frames/s from first produce to last final
 * event), then fixed-rate runs at fractions of the saturation throughput for latency percentiles.
 * The load generator and the watcher run here, in the parent, so none of their CPU is counted.
 */
export async function runGate(ctx: BenchContext, model: BenchModel, faces: BenchFace[], o: EndToEndOptions): Promise<GateRuns> {
  const run = `bench-${randomUUID().slice(0, 8)}`;
  const topics = { input: `${run}-in`, output: `${run}-out`, escalation: `${run}-esc`, dlq: `${run}-dlq` };
  const client = createKafkajsClient({ brokers: o.brokers, clientId: `${run}-load`, maxWaitTimeMs: 100 });
  const admin = client.admin();
  await admin.createTopics([{ topic: topics.input, partitions: PARTITIONS }]);
  await admin.close();
  const codec = createCodec(await embeddedRegistry(), topics);
  const producer = client.producer();
  await producer.connect();
  const feeder = new Feeder(producer, codec, topics.input, faces, run, PARTITIONS);
  ctx.log(`  starting the gate (${o.transportOnly ? 'transport only' : model.id}, ${o.client}) in a child process…`);
  const child = await GateChild.start(childSettings(ctx, model, run, o.brokers, o.client), { transportOnly: o.transportOnly });
  const watcher = new FinalWatcher(client.consumer({ groupId: `${run}-watch` }), codec, topics);
  let result: Omit<GateRuns, 'cleanStop'>;
  let cleanStop = false;
  try {
    await watcher.start();
    // Warm-up: JIT, ORT's first runs at each shape, Kafka connections to every partition leader.
    await feeder.burst(o.warmup);
    await watcher.waitFor(feeder.sent, 300_000);

    const runs: SaturationRun[] = [];
    const profileFile = ctx.profileDir ? path.join(ctx.profileDir, `gate-main-${model.id}-${run}.cpuprofile`) : undefined;
    if (profileFile) await child.profileStart();
    for (let r = 0; r < o.runs; r++) {
      const before = await child.sample();
      const from = feeder.sent;
      const t0 = Date.now();
      await feeder.burst(o.frames);
      await watcher.waitFor(feeder.sent, 600_000);
      const after = await child.sample();
      const last = Math.max(...range(from, feeder.sent).map((n) => watcher.finals.get(`${run}-${n}`)?.eventTs ?? 0));
      runs.push({
        frames: o.frames, cpuMsPerFrame: childCpuMs(before, after) / o.frames, threadsMsPerFrame: threadsPerFrame(before, after, o.frames),
        framesPerSecond: o.frames / ((last - t0) / 1000),
        meanBatch: (after.items - before.items) / Math.max(1, after.batches - before.batches), pausedMs: after.pausedMs - before.pausedMs,
      });
      ctx.log(`  saturation run ${r + 1}/${o.runs}: ${round(runs[r].framesPerSecond, 1)} frames/s, ${round(runs[r].cpuMsPerFrame, 3)} core-ms/frame, mean batch ${round(runs[r].meanBatch, 1)}`);
    }
    let profile: ProfileSummary | undefined;
    if (profileFile) {
      await child.profileStop(profileFile);
      profile = summariseProfile(JSON.parse(await readFile(profileFile, 'utf8')), profileFile);
    }
    const idle0 = await child.sample();
    await sleep(2000);
    const idleCpuMsPerSecond = childCpuMs(idle0, await child.sample()) / 2;

    // A backlog drains faster than a stream arrives here: a paced producer, the broker and the gate
    // share two cores. The latency loads are therefore fractions of the rate the gate sustains while
    // fed at its backlog rate (the 100 % row), measured first.
    const saturation = median(runs.map((r) => r.framesPerSecond));
    const latency: LatencyRow[] = [];
    let streaming: number | undefined;
    const loads = o.latencyLoads.includes(1) ? [1, ...o.latencyLoads.filter((l) => l !== 1)] : o.latencyLoads;
    for (const load of loads) {
      const before = await child.sample();
      const from = feeder.sent;
      const rate = (streaming ?? saturation) * load;
      await feeder.paced(rate, o.latencySeconds);
      await watcher.waitFor(feeder.sent, 600_000);
      const after = await child.sample();
      const got = range(from, feeder.sent).map((n) => watcher.finals.get(`${run}-${n}`)).filter((x) => x !== undefined);
      if (load === 1 && streaming === undefined && got.length > 1) {
        const first = Math.min(...got.map((x) => x.captureTs)), last = Math.max(...got.map((x) => x.eventTs));
        streaming = Math.min(saturation, got.length / ((last - first) / 1000));
        ctx.log(`  streaming saturation: ${round(streaming, 1)} frames/s (fed at ${round(rate, 1)}/s)`);
      }
      const lat = got.map((x) => x.eventTs - x.captureTs);
      const arrived = got.map((x) => x.arrivedAt - x.captureTs);
      latency.push({
        load, ratePerSecond: rate, frames: got.length, p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99),
        arrivedP99: percentile(arrived, 99), meanBatch: (after.items - before.items) / Math.max(1, after.batches - before.batches), breakdown: breakdown(got),
      });
      ctx.log(`  ${Math.round(load * 100)} % load (${round(rate, 1)}/s): p50 ${latency.at(-1)!.p50} ms, p99 ${latency.at(-1)!.p99} ms`);
    }
    latency.sort((a, b) => a.load - b.load);
    result = { modelId: model.id, client: o.client, provider: child.provider, runs, idleCpuMsPerSecond, latency, streamingFramesPerSecond: streaming, dlq: Object.fromEntries(watcher.dlqReasons), duplicates: watcher.duplicates };
    if (profile) result.profile = profile;
  } finally {
    cleanStop = await child.stop().catch(() => false);
    await watcher.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
  }
  return { ...result, cleanStop };
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
