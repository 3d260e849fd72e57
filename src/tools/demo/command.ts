import path from 'node:path';
import { buildConfig } from '../../plugin/config/load.js';
import { createLogger } from '../../plugin/core/log.js';
import { startGate, topicsFrom } from '../../plugin/app/gate-app.js';
import { startEscalation, type EscalationApp } from '../../plugin/app/escalation-app.js';
import type { Config } from '../../plugin/config/load.js';
import type { Logger } from '../../plugin/core/log.js';
import type { KafkaClient } from '../../plugin/kafka/port.js';
import { createKafkajsClient } from '../../plugin/kafka/kafkajs.js';
import { createCodec, createRegistry } from '../../plugin/pipeline/codecs.js';
import { buildDemoCrops } from './cameras.js';
import { demoBroker } from './broker.js';
import { publishStream } from './stream.js';
import { OutcomeWatcher, percentile, renderTable, TABLE_LEGEND } from './watch.js';
import { runtimeFromConfig } from '../../plugin/app/runtime.js';
import { isCount, numberFlag, type Parsed } from '../../plugin/cli/args.js';
import { EXIT } from '../../plugin/cli/exit.js';
import { packageRoot } from '../../plugin/core/paths.js';
import { GateError } from '../../plugin/core/errors.js';
import { Progress, PROGRESS_LINE_INTERVAL_MS } from '../../plugin/core/progress.js';

/**
 * `npm run demo`: the product end to end on an embedded default — local broker, camera-like
 * stream from ../shared/data/celeba-wild, the gate (and the escalation stage when its models
 * exist), a live table and a final summary.
 */
export default async function demo(p: Parsed): Promise<number> {
  const count = numberFlag(p, 'frames', isCount) ?? 240;
  const rate = numberFlag(p, 'rate', (v) => Number.isFinite(v) && v > 0) ?? 40;
  const configured = process.env.DIFFIQA_GATE__KAFKA__BROKERS;
  if (configured) return streamDemo(p, configured, count, rate);
  const broker = await demoBroker((line) => process.stderr.write(`${line}\n`)).catch((err: unknown) => {
    throw new GateError('KAFKA_NETWORK', `the local broker did not start (${(err as Error).message.trim().split('\n').pop()}). Run against a Kafka you have (DIFFIQA_GATE__KAFKA__BROKERS=host:port npm run demo) or choose the local one's ports (KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 npm run demo)`, { cause: err });
  });
  const keep = p.flags['keep-broker'] === true;
  // A broker the demo started must not outlive a failed run or Ctrl-C: broker.sh detaches the JVM
  // (setsid), and one on drawn ports would be neither reused nor stopped by the next run.
  const stop = async () => { if (broker.started && !keep) await broker.stop(); };
  const interrupted = () => { void stop().finally(() => process.exit(EXIT.failure)); };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return await streamDemo(p, broker.address, count, rate);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await stop();
    if (broker.started && keep) process.stderr.write(`the local broker keeps running at ${broker.address}; stop it with: ${broker.stopCommand}\n`);
  }
}

async function streamDemo(p: Parsed, brokers: string, count: number, rate: number): Promise<number> {
  const mirror = process.env.DIFFIQA_ASSET_MIRROR ?? path.resolve(packageRoot(), '../shared');
  const run = `demo-${Date.now().toString(36)}`;
  const cfg = buildConfig({}, process.env, {
    'kafka.brokers': brokers.split(','),
    'kafka.inputTopic': `${run}.face-crops`, 'kafka.outputTopic': `${run}.face-quality`,
    'kafka.escalationTopic': `${run}.escalation`, 'kafka.dlqTopic': `${run}.dlq`,
    'kafka.groupId': `${run}.gate`, 'models.mirror': mirror, 'log.level': process.env.DIFFIQA_GATE__LOG__LEVEL ?? 'error',
    // Full DifFIQA on a CPU is slow: fewer repeats, and a short max age so the overload
    // fallback (skipped_overload) shows up too rather than frames waiting.
    'escalation.repeats': Number(process.env.DIFFIQA_GATE__ESCALATION__REPEATS ?? 4),
    'escalation.maxAgeMs': Number(process.env.DIFFIQA_GATE__ESCALATION__MAX_AGE_MS ?? 20_000),
    'escalation.groupId': `${run}.escalation`,
  });
  const log = createLogger(cfg.get('log.level'));
  const client = createKafkajsClient({ brokers: cfg.get('kafka.brokers'), clientId: 'diffiqa-demo', logger: log });
  const topics = topicsFrom(cfg);

  process.stderr.write(`preparing ${count} camera crops from celeba-wild (detector, crop, degrade; cached after the first run)…\n`);
  const rt = runtimeFromConfig(cfg);
  await rt.load(cfg.get('models.detector'));
  const progress = new Progress(count, 'camera crops');
  const crops = await buildDemoCrops(rt, cfg, path.join(mirror, 'data', 'celeba-wild'), count, undefined, () => progress.tick());
  progress.end();
  await rt.close();
  process.stderr.write('starting the gate and the escalation stage (loading their models)…\n');

  const admin = client.admin();
  await admin.createTopics([{ topic: topics.input, partitions: 3 }]);
  await admin.close();
  const escalation = await startEscalationIfPossible(cfg, client, log);
  const app = await startGate(escalation ? cfg : buildConfig({}, process.env, { ...overridesOf(cfg), 'gate.escalate': false }), client, log)
    .catch(async (err: unknown) => {
      // The escalation stage's consumer would keep the process alive after the error.
      await escalation?.shutdown(cfg.get('shutdown.deadlineMs'));
      throw err;
    });
  const codec = createCodec(await createRegistry(cfg.get('registry.type'), cfg.get('registry.url')), topics);
  const watcher = new OutcomeWatcher(client.consumer({ groupId: `${run}.watch` }), codec, topics);
  await watcher.start();

  const sentPerCamera = new Map<string, number>();
  const producer = client.producer();
  await producer.connect();
  const t0 = performance.now();
  const cameras = 4;
  const status = () => `final ${watcher.finals}  dlq ${watcher.dlq}  in-flight ${[...sentPerCamera.values()].reduce((a, b) => a + b, 0) - watcher.finals - watcher.dlq}  ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  // A live table on a terminal; into a file or a pipe, a status line every 10 s and no screen codes.
  const tty = process.stdout.isTTY === true;
  process.stderr.write(`streaming ${count} frames on ${cameras} cameras at ${rate}/s${tty ? '' : `; status every ${PROGRESS_LINE_INTERVAL_MS / 1000} s`}\n`);
  const live = setInterval(() => {
    process.stdout.write(tty ? `\x1b[2J\x1b[H${renderTable(watcher, sentPerCamera)}\n${TABLE_LEGEND}\n\n${status()}\n` : `${status()}\n`);
  }, tty ? 1000 : PROGRESS_LINE_INTERVAL_MS);
  let sentTotal = 0;
  const stream = await publishStream(producer, codec, crops, { topic: topics.input, cameras, ratePerSecond: rate, badFraction: 0.05, seed: 'demo-stream', runId: run }, (n) => {
    for (let i = 0; i < n; i++) { const cam = `cam-${((sentTotal + i) % cameras) + 1}`; sentPerCamera.set(cam, (sentPerCamera.get(cam) ?? 0) + 1); }
    sentTotal += n;
  });
  const deadline = Date.now() + 120_000;
  while (watcher.finals + watcher.dlq < stream.sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  clearInterval(live);
  const wall = (performance.now() - t0) / 1000;
  const clean = await app.shutdown(cfg.get('shutdown.deadlineMs'));
  const escalationClean = escalation ? await escalation.shutdown(cfg.get('shutdown.deadlineMs')) : true;
  await watcher.consumer.stop();
  await watcher.consumer.disconnect();
  await producer.disconnect();

  const lat = watcher.latenciesMs;
  const complete = watcher.finals + watcher.dlq === stream.sent;
  process.stdout.write(`${renderTable(watcher, sentPerCamera)}\n${TABLE_LEGEND}\n\n`);
  process.stdout.write([
    `summary: ${stream.sent} frames sent (${stream.bad} deliberately broken) in ${wall.toFixed(1)} s on ${cameras} cameras`,
    `  final events ${watcher.finals}, dead letters ${watcher.dlq} (${[...watcher.dlqReasons].map(([k, v]) => `${k}:${v}`).join(', ') || 'none'}), duplicates ${watcher.duplicates}`,
    `  every frame accounted for: ${complete ? 'yes' : 'NO'}`,
    `  produce→final latency ms: p50 ${percentile(lat, 50).toFixed(0)}, p95 ${percentile(lat, 95).toFixed(0)}, p99 ${percentile(lat, 99).toFixed(0)}`,
    `  model ${cfg.get('models.regressor')} on ${app.provider}; thresholds accept ≥ ${cfg.get('gate.accept')}, reject < ${cfg.get('gate.reject')}; clean shutdown: ${clean && escalationClean}`,
    escalation
      ? `  escalation: full DifFIQA (${cfg.get('models.denoiser')}, ${cfg.get('escalation.repeats')} repeats) scored ${escalation.stage.counts.scored}, skipped_overload ${escalation.stage.counts.skippedOverload} (max age ${cfg.get('escalation.maxAgeMs')} ms)`
      : '  escalation: off (its models could not be loaded, see above); borderline frames got their final event from the regressor',
  ].join('\n') + '\n');
  return complete && clean && escalationClean ? EXIT.ok : EXIT.failure;
}

/** The escalation stage runs when its models resolve; otherwise the demo says so and goes on without. */
async function startEscalationIfPossible(cfg: Config, client: KafkaClient, log: Logger): Promise<EscalationApp | undefined> {
  try {
    return await startEscalation(cfg, client, log);
  } catch (err) {
    process.stderr.write(`escalation stage not started: ${(err as Error).message}\n`);
    return undefined;
  }
}

function overridesOf(cfg: Config): Record<string, unknown> {
  return cfg.toJSON();
}
