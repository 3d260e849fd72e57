/**
 * Fatal start errors never hang (issue 19): `diffiqa-gate run` (built CLI, child process) with an
 * input topic that does not exist, or with no broker at the configured address, exits 4 within 30 s
 * with the coded error and a hint on stderr; a bad configuration (a misspelled DIFFIQA_GATE__ variable,
 * no brokers, a section of the wrong type) exits 2 naming it; an output that can never be published
 * (over its topic's size limit even as a compact dead letter) exits 4 instead of being retried for good. Before the fix the missing topic logged KAFKA_NETWORK,
 * closed /healthz and never exited.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { KAFKA_CLIENTS, brokers, cropFactory, produce, testClient, uniqueNames } from '../helpers/gate-harness.js';
import { childGateSuite, Children, writeGateConfig } from './support.js';

// The bound; a model load and the broker round trips take a few seconds on a loaded host.
const EXIT_WITHIN_MS = 30_000;

const gates = childGateSuite('diffiqa-start-');
// Children with extra env (a misspelled variable), killed after the file's tests like the suite's.
const withEnv: Children[] = [];

afterAll(() => {
  for (const c of withEnv) c.killAll();
});

async function exitOf(configFile: string, env: Record<string, string> = {}): Promise<{ code: number | string; ms: number; stderr: string }> {
  const t0 = performance.now();
  let group = gates.children;
  if (Object.keys(env).length > 0) withEnv.push((group = new Children({ ...gates.fx.env, ...env })));
  const child = group.start(configFile);
  const code = await Promise.race([child.exited, new Promise<string>((r) => setTimeout(() => r('still running'), EXIT_WITHIN_MS))]);
  return { code, ms: performance.now() - t0, stderr: child.stderr() };
}

describe.each(KAFKA_CLIENTS)('gate start failures (real broker) (%s)', (kind) => {
  it('run should exit 4 with KAFKA_TOPIC_MISSING and a hint when the input topic does not exist', async () => {
    const names = uniqueNames('missing-topic', kind);
    const { code, ms, stderr } = await exitOf(await writeGateConfig(gates.dir, names, gates.fx, {}));
    console.log(`missing input topic: exit ${code} after ${ms.toFixed(0)} ms`);
    expect(code, stderr.slice(-3000)).toBe(4);
    expect(stderr).toContain('[KAFKA_TOPIC_MISSING]');
    expect(stderr).toContain(names.topics.input);
    expect(stderr).toContain('kafka.inputTopic');
  }, EXIT_WITHIN_MS + 10_000);

  it('run should exit 4 with KAFKA_NETWORK and a hint when no broker answers', async () => {
    const names = uniqueNames('no-broker', kind);
    // A port nothing listens on.
    const { code, ms, stderr } = await exitOf(await writeGateConfig(gates.dir, names, gates.fx, { 'kafka.brokers': ['127.0.0.1:1'] }));
    console.log(`no broker: exit ${code} after ${ms.toFixed(0)} ms`);
    expect(code, stderr.slice(-3000)).toBe(4);
    expect(stderr).toContain('[KAFKA_NETWORK]');
    expect(stderr).toContain('check kafka.brokers');
  }, EXIT_WITHIN_MS + 10_000);

  it('run should exit 2 naming a misspelled DIFFIQA_GATE__ variable, an empty broker list and a section of the wrong type', async () => {
    const names = uniqueNames('bad-config', kind);
    const typo = await exitOf(await writeGateConfig(gates.dir, names, gates.fx, {}), { DIFFIQA_GATE__KAFKA__BROKRS: '127.0.0.1:9092' });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown environment variable DIFFIQA_GATE__KAFKA__BROKRS');
    const empty = await exitOf(await writeGateConfig(gates.dir, names, gates.fx, { 'kafka.brokers': [] }));
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('"kafka.brokers": expected at least 1 entry');
    const file = path.join(gates.dir, 'oops.yaml');
    await writeFile(file, 'kafka: oops\n');
    const oops = await exitOf(file);
    expect(oops.code).toBe(2);
    expect(oops.stderr).toContain('config section "kafka": expected a mapping');
  }, 3 * EXIT_WITHIN_MS);

  it('run should exit 4 with GATE_FATAL when an output can never be published, instead of retrying it for good', async () => {
    const names = uniqueNames('never-fits', kind);
    // An output topic whose records may be 200 bytes: no FaceQuality event fits, compacted or not.
    const kafka = new Kafka({ brokers, clientId: names.run, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [
        { topic: names.topics.input, numPartitions: 1 },
        { topic: names.topics.output, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '200' }] },
      ] });
    } finally {
      await admin.disconnect();
    }
    const client = testClient(names.run, names.client);
    const { factory } = await cropFactory(names, gates.fx, 64_000);
    await produce(client, names.topics.input, await factory.stream(names.run, 5, 0), { partitions: 1 });
    const { code, ms, stderr } = await exitOf(await writeGateConfig(gates.dir, names, gates.fx, { 'kafka.maxMessageBytes': 64_000 }));
    console.log(`output that never fits: exit ${code} after ${ms.toFixed(0)} ms`);
    expect(code, stderr.slice(-3000)).toBe(4);
    expect(stderr).toContain('[GATE_FATAL]');
    expect(stderr).toContain('"cause":"KAFKA_TOO_LARGE"');
  }, EXIT_WITHIN_MS + 30_000);
});
