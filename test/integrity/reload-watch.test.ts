/**
 * The config file is watched (reload.watchMs, debounced by reload.debounceMs): a running
 * `diffiqa-gate run` (built CLI, child process, real broker) applies a changed cameras section
 * without any signal; a file that does not load is refused (logged and counted in
 * diffiqa_reloads_total) and the running policy stays. Nothing lost or duplicated across both.
 * Needs a broker, ../shared and the fixtures.
 */
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  KAFKA_CLIENTS, cropFactory, drained, gateSettings, nestSettings, produce, testClient, uniqueNames, waitFor,
} from '../helpers/gate-harness.js';
import { childGateSuite, expectReloadPhases, terminate, waitForLogCount } from './support.js';

const PARTITIONS = 2;

const gates = childGateSuite('diffiqa-reload-watch-');

/** A port nothing listens on now, for the child's /metrics. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

describe.each(KAFKA_CLIENTS)('config reload by file watch (real broker) (%s)', (kind) => {
  it('run should apply a changed cameras section when its file changes, without a signal, and keep the running one when the file is bad', async () => {
    const names = uniqueNames('reload-watch', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, gates.fx, 64_000);
    const port = await freePort();
    const file = `${gates.dir}/${names.run}.yaml`;
    const settings = gateSettings(names, gates.fx, {
      'log.level': 'info', 'kafka.maxMessageBytes': 64_000, 'telemetry.metricsPort': port, 'reload.watchMs': 100, 'reload.debounceMs': 300,
    });
    const write = (cameras: unknown) => writeFile(file, stringify({ ...nestSettings(settings), cameras }));
    const reloads = async () => {
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return [...body.matchAll(/^diffiqa_reloads_total\{what="config",result="(\w+)"\} (\d+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    };
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      await write({ 'cam-*': { mode: 'shadow' } });
      const child = gates.children.start(file);
      await child.waitForLog('gate running', 60_000);
      await produce(client, names.topics.input, await factory.stream(`${names.run}-a`, 100, 0), { partitions: PARTITIONS });
      await waitFor('the shadow frames to be committed', () => drained(admin, names.groupId, names.topics.input), 60_000);
      expect(await reloads()).toEqual(['failed 0']);

      await write({ 'cam-*': { mode: 'off' } });
      await waitForLogCount(child, 'config reload failed: the running policy stays', 1, 10_000);
      await produce(client, names.topics.input, await factory.stream(`${names.run}-b`, 50, 0), { partitions: PARTITIONS });
      await waitFor('the frames after the bad file to be committed', () => drained(admin, names.groupId, names.topics.input), 60_000);

      await write({ 'cam-*': { accept: 1e9, reject: 1e9 } });
      await waitForLogCount(child, 'config reload: camera policy applied', 1, 10_000);
      await produce(client, names.topics.input, await factory.stream(`${names.run}-c`, 100, 0), { partitions: PARTITIONS });
      await waitFor('the enforced frames to be committed', () => drained(admin, names.groupId, names.topics.input), 60_000);
      // One reload per file written: the writes of one file fall within the quiet time.
      expect(await reloads()).toEqual(['applied 1', 'failed 1']);
      expect(await terminate(child, 30_000), child.stderr().slice(-3000)).toBe(0);

      await expectReloadPhases(admin, codec, names, `reload-watch (${kind})`);
    } finally {
      await admin.close();
    }
  }, 240_000);
});
