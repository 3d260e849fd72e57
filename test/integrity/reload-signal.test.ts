/**
 * SIGHUP reloads the camera policy of a running `diffiqa-gate run` (built CLI, child process,
 * real broker): a file with an error is refused and the running policy stays; a good one applies
 * to the frames after it, nothing lost or duplicated. Needs a broker, ../shared and the fixtures.
 */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  KAFKA_CLIENTS, cropFactory, drained, gateSettings, nestSettings, produce, testClient, uniqueNames, waitFor,
} from '../helpers/gate-harness.js';
import { childGateSuite, expectReloadPhases, terminate, waitForLogCount } from './support.js';

const PARTITIONS = 2;
const gates = childGateSuite('diffiqa-reload-');

describe.each(KAFKA_CLIENTS)('config reload by signal (real broker) (%s)', (kind) => {
  it('run should apply a changed cameras section on SIGHUP between batches, and keep the running one when the file is bad', async () => {
    const names = uniqueNames('reload-signal', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, gates.fx, 64_000);
    const file = `${gates.dir}/${names.run}.yaml`;
    const write = (cameras: unknown) => writeFile(file, stringify({ ...nestSettings(gateSettings(names, gates.fx, { 'log.level': 'info', 'kafka.maxMessageBytes': 64_000 })), cameras }));
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      await write({ 'cam-*': { mode: 'shadow' } });
      const child = gates.children.start(file);
      await child.waitForLog('gate running', 60_000);
      await produce(client, names.topics.input, await factory.stream(`${names.run}-a`, 100, 0), { partitions: PARTITIONS });
      await waitFor('the shadow frames to be committed', () => drained(admin, names.groupId, names.topics.input), 60_000);

      await write({ 'cam-*': { mode: 'off' } });
      child.proc.kill('SIGHUP');
      await waitForLogCount(child, 'config reload failed: the running policy stays', 1, 10_000);
      await produce(client, names.topics.input, await factory.stream(`${names.run}-b`, 50, 0), { partitions: PARTITIONS });
      await waitFor('the frames after the bad file to be committed', () => drained(admin, names.groupId, names.topics.input), 60_000);

      await write({ 'cam-*': { accept: 1e9, reject: 1e9 } });
      child.proc.kill('SIGHUP');
      await waitForLogCount(child, 'config reload: camera policy applied', 1, 10_000);
      await produce(client, names.topics.input, await factory.stream(`${names.run}-c`, 100, 0), { partitions: PARTITIONS });
      await waitFor('the enforced frames to be committed', () => drained(admin, names.groupId, names.topics.input), 60_000);
      expect(await terminate(child, 30_000), child.stderr().slice(-3000)).toBe(0);

      await expectReloadPhases(admin, codec, names, 'reload-signal');
    } finally {
      await admin.close();
    }
  }, 240_000);
});
