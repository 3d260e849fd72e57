/**
 * The camera policy across both stages on the real broker (issue 22): every frame is borderline at
 * the gate; a shadow camera's frames are escalated and their final events (from the escalation
 * stage) still say enforced false; a camera with its own escalation thresholds is decided by them;
 * a camera with escalate false gets its final event from the gate. Needs a broker, ../shared and
 * the fixtures (tiny regressor and denoiser).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEscalation } from '../../src/plugin/app/escalation-app.js';
import { startGate } from '../../src/plugin/app/gate-app.js';
import { buildConfig } from '../../src/plugin/config/load.js';
import { decide } from '../../src/plugin/pipeline/stages/decide.js';
import { prepareFixtureModels, type FixtureModels } from '../helpers/fixture-models.js';
import {
  KAFKA_CLIENTS, assertBroker, cropFactory, drained, gateSettings, produce, readInputs, readOutcomes, tally, testClient, testLogger, uniqueNames, waitFor,
} from '../helpers/gate-harness.js';

const COUNT = 60;
const PARTITIONS = 2;
let fx: FixtureModels;

beforeAll(async () => {
  await assertBroker();
  fx = await prepareFixtureModels({ denoiser: true });
  process.env.DIFFIQA_CACHE = fx.cacheDir;
}, 60_000);

afterAll(async () => {
  delete process.env.DIFFIQA_CACHE;
  await fx?.cleanup();
});

describe.each(KAFKA_CLIENTS)('cameras across the gate and the escalation stage (real broker) (%s)', (kind) => {
  it('startEscalation should keep the gate\'s shadow mode on the final event and decide by the camera\'s escalation thresholds', async () => {
    const names = uniqueNames('cameras-esc', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, fx, 64_000);
    const cfg = buildConfig({
      cameras: { 'cam-1': { mode: 'shadow' }, 'cam-2': { escalation: { accept: -1e9, reject: -1e9 } }, 'cam-3': { escalate: false } },
    }, {}, gateSettings(names, fx, {
      'kafka.maxMessageBytes': 64_000, 'gate.escalate': true, 'gate.accept': 1e9, 'gate.reject': -1e9,
      'escalation.groupId': `${names.run}-escalation`, 'escalation.repeats': 1, 'escalation.maxAgeMs': 0,
    }));
    const log = testLogger();
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      const escalation = await startEscalation(cfg, client, log);
      const gate = await startGate(cfg, client, log);
      try {
        await produce(client, names.topics.input, await factory.stream(names.run, COUNT, 0), { partitions: PARTITIONS });
        await waitFor('both stages to commit every record', async () =>
          (await drained(admin, names.groupId, names.topics.input)) && (await drained(admin, `${names.run}-escalation`, names.topics.escalation)), 120_000, 200);
      } finally {
        expect(await gate.shutdown(10_000)).toBe(true);
        expect(await escalation.shutdown(10_000)).toBe(true);
      }
      const inputs = await readInputs(admin, names.topics.input);
      const t = tally(inputs, await readOutcomes(admin, codec, names.topics));
      expect(t.missing).toEqual([]);
      expect([...t.duplicates]).toEqual([]);
      const events = [...t.bySource.values()].flat().flatMap((o) => (o.type === 'event' ? [o.event] : []));
      const by = (cam: string) => events.filter((e) => e.cameraId === cam);
      const global = { accept: cfg.get('escalation.accept'), reject: cfg.get('escalation.reject') };
      const shape = (cam: string) => [...new Set(by(cam).map((e) => `${e.escalation} ${e.enforced ? 'enforced' : 'shadow'}`))];
      console.log(`cameras-esc: ${inputs.length} inputs; cam-1 ${shape('cam-1')}, cam-2 ${shape('cam-2')}, cam-3 ${shape('cam-3')}, cam-4 ${shape('cam-4')}`);
      expect([shape('cam-1'), shape('cam-2'), shape('cam-3'), shape('cam-4')]).toEqual([['ESCALATED shadow'], ['ESCALATED enforced'], ['NONE enforced'], ['ESCALATED enforced']]);
      for (const e of by('cam-1')) expect([e.thresholds, e.decision]).toEqual([global, decide(e.score, global)]);
      for (const e of by('cam-2')) expect([e.thresholds.accept, e.decision]).toEqual([-1e9, 'ACCEPT']);
      for (const e of by('cam-3')) expect([e.model.role, e.decision]).toEqual(['regressor', 'BORDERLINE']);
    } finally {
      await admin.close();
    }
  }, 180_000);
});
