/**
 * The broker goes away mid-stream and comes back with its data (deploy/kafka/broker.sh stop, then
 * KAFKA_KEEP_DATA=1 start): the gate (built CLI, child process) reconnects by itself, finishes
 * every input produced before and after the outage, and loses nothing.
 *
 * It bounces its own broker on another port (KAFKA_RESTART_PORT, default 19092) rather than the
 * shared one on 9092: other tests and people use that broker at the same time, and stopping it
 * under them would fail their runs. Set KAFKA_RESTART_PORT=9092 to bounce the shared broker; it
 * is then started again in afterAll even when the test fails. Its own broker is stopped there.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/plugin/core/paths.js';
import { prepareFixtureModels, type FixtureModels } from '../helpers/fixture-models.js';
import {
  KAFKA_CLIENTS, builtBin, cropFactory, drained, logLines, produce, readInputs, readOutcomes, sleep, sumCommitted, tally, tempDir, testClient, uniqueNames, waitFor,
} from '../helpers/gate-harness.js';
import { alive, Children, contradictions, recordSummary, sum, terminate, writeGateConfig } from './support.js';

const PORT = Number(process.env.KAFKA_RESTART_PORT ?? 19092);
const SHARED = PORT === 9092;
const BROKER = `127.0.0.1:${PORT}`;
const BEFORE = 1200;
const AFTER = 400;
const PARTITIONS = 3;
const IN_FLIGHT = 16;
const DOWN_MS = 8000;
const MAX_MESSAGE_BYTES = 64_000;

const run = promisify(execFile);
const script = path.join(packageRoot(), 'deploy', 'kafka', 'broker.sh');

/** broker.sh on our port; `keep` keeps the data across a stop/start. */
async function broker(cmd: 'start' | 'stop', keep: boolean): Promise<number> {
  const t0 = performance.now();
  await run(script, [cmd], {
    env: { ...process.env, KAFKA_PORT: String(PORT), KAFKA_CONTROLLER_PORT: String(PORT + 1), KAFKA_KEEP_DATA: keep ? '1' : '0' },
    timeout: 120_000,
  });
  return performance.now() - t0;
}

let fx: FixtureModels;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let children: Children;
let startMs = 0;

beforeAll(async () => {
  builtBin();
  fx = await prepareFixtureModels();
  tmp = await tempDir('diffiqa-broker-restart-');
  children = new Children(fx.env);
  // A broker already running on the port is reused as it is (broker.sh leaves its data alone).
  startMs = await broker('start', SHARED);
}, 150_000);

afterAll(async () => {
  children?.killAll();
  // The shared broker must be back for everyone else; our own is not needed by anyone.
  await broker(SHARED ? 'start' : 'stop', true).catch((err: unknown) => console.error(`broker-restart: could not ${SHARED ? 'restart' : 'stop'} the broker on ${BROKER}: ${String(err)}`));
  await tmp?.cleanup();
  await fx?.cleanup();
}, 150_000);

describe.each(KAFKA_CLIENTS)('gate across a broker restart (child process, real broker) (%s)', (kind) => {
  it('run should reconnect after the broker stops and starts again and finish every input', async () => {
    const names = uniqueNames('bounce', kind);
    const client = testClient(names.run, names.client, undefined, [BROKER]);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, fx, MAX_MESSAGE_BYTES);
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      const msgs = await factory.stream(names.run, BEFORE + AFTER, 20);
      await produce(client, names.topics.input, msgs.slice(0, BEFORE), { partitions: PARTITIONS });
      const configFile = await writeGateConfig(tmp.dir, names, fx, {
        'kafka.brokers': [BROKER], 'kafka.maxMessageBytes': MAX_MESSAGE_BYTES, 'gate.inFlightPerPartition': IN_FLIGHT, 'shutdown.deadlineMs': 10_000,
      });
      const gate = children.start(configFile);
      await gate.waitForLog('gate running', 60_000);
      await waitFor('the gate to commit its first inputs', async () => (await sumCommitted(admin, names.groupId, names.topics.input)) >= BEFORE / 4, 60_000, 25);

      const committedAtStop = await sumCommitted(admin, names.groupId, names.topics.input);
      const stopMs = await broker('stop', true);
      await sleep(DOWN_MS);
      expect(alive(gate), `the gate died while the broker was down:\n${gate.stderr().slice(-3000)}`).toBe(true);
      const restartMs = await broker('start', true);
      const t0 = performance.now();
      // New crops after the outage: the gate must consume again, not only finish what it had.
      await produce(client, names.topics.input, msgs.slice(BEFORE), { partitions: PARTITIONS, from: BEFORE });
      const recoverMs = await waitFor('the gate to commit every input offset after the restart', () => drained(admin, names.groupId, names.topics.input), 80_000, 100);
      const exit = await terminate(gate, 20_000);

      const inputs = await readInputs(admin, names.topics.input);
      const t = tally(inputs, await readOutcomes(admin, codec, names.topics));
      const dupTotal = sum([...t.duplicates.values()].map((n) => n - 1));
      const perPartition = new Map<number, number>();
      for (const [source, n] of t.duplicates) {
        const p = inputs.find((i) => i.source === source)!.partition;
        perPartition.set(p, (perPartition.get(p) ?? 0) + n - 1);
      }
      const errors = gate.stderr().split('\n').filter((l) => l.includes('"level":50')).length;
      console.log(`broker-restart: broker ${BROKER} ${SHARED ? '(shared)' : '(own)'} started in ${startMs.toFixed(0)} ms; stopped after ${committedAtStop} of ${BEFORE} committed ` +
        `(stop took ${stopMs.toFixed(0)} ms), down ${DOWN_MS} ms, restart took ${restartMs.toFixed(0)} ms; gate drained ${inputs.length} inputs ${recoverMs.toFixed(0)} ms after the restart ` +
        `(${(performance.now() - t0).toFixed(0)} ms incl. reading); ${t.missing.length} lost, ${dupTotal} duplicates ${JSON.stringify(Object.fromEntries(perPartition))}; ` +
        `${errors} error log lines while the broker was away; exit ${exit}`);

      expect(committedAtStop).toBeLessThan(BEFORE);
      expect(inputs).toHaveLength(BEFORE + AFTER);
      expect(t.missing.map((i) => i.source)).toEqual([]);
      expect(t.strays).toEqual([]);
      // At most the chunk each partition had in flight when the broker went, redone once.
      expect(dupTotal).toBeLessThanOrEqual(IN_FLIGHT * PARTITIONS);
      for (const n of t.duplicates.values()) expect(n).toBe(2);
      expect(contradictions(t)).toEqual([]);
      expect(exit, gate.stderr().slice(-3000)).toBe(0);
      expect(logLines(gate.stderr(), 'stopped')[0]?.clean).toBe(true);

      await recordSummary({
        client: kind, test: 'broker-restart', kinds: 1 + 7, faults: 1, faultsNote: `broker stop + start, ${DOWN_MS / 1000} s down`, inputs: inputs.length,
        lost: t.missing.length, duplicates: dupTotal, notes: `drained ${(recoverMs / 1000).toFixed(0)} s after the restart; ${AFTER} crops produced after it`,
      });
    } finally {
      await admin.close();
    }
  }, 120_000);
});
