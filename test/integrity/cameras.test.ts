/**
 * Per-camera policy on the real broker (issue 22): shadow cameras get the decision that would
 * have been taken with `enforced: false`, other cameras their own thresholds; and the policy
 * reloaded twice while frames flow loses and duplicates nothing, each event decided wholly by
 * one of the policies. Needs a broker (deploy/kafka/broker.sh start), ../shared and the fixtures.
 */
import { describe, expect, it } from 'vitest';
import type { GateApp } from '../../src/plugin/app/gate-app.js';
import { buildConfig, type Config } from '../../src/plugin/config/load.js';
import { decide } from '../../src/plugin/pipeline/stages/decide.js';
import type { FaceQuality } from '../../src/schemas/index.js';
import { KAFKA_CLIENTS, gateSettings, uniqueNames, waitFor, type RunNames } from '../helpers/gate-harness.js';
import { inProcessGateSuite, recordSummary, runInProcessGate } from './support.js';

const PARTITIONS = 3;
const suite = inProcessGateSuite();

function configWith(names: RunNames, cameras: unknown): Config {
  return buildConfig({ cameras }, {}, gateSettings(names, suite.fx, { 'kafka.maxMessageBytes': 64_000 }));
}

async function runGate(names: RunNames, cfg: Config, count: number, during?: (app: GateApp) => Promise<void>) {
  const run = await runInProcessGate(suite.fx, names, cfg, { count, partitions: PARTITIONS, paceMs: during ? 60 : 0, during });
  return { ...run, global: { accept: cfg.get('gate.accept'), reject: cfg.get('gate.reject') } };
}

describe.each(KAFKA_CLIENTS)('cameras (real broker) (%s)', (kind) => {
  it('startGate should tag shadow cameras enforced false with the decision enforce would take, and decide the others by their own thresholds', async () => {
    const names = uniqueNames('cameras-shadow', kind);
    const cfg = configWith(names, { 'cam-1': { mode: 'shadow' }, 'cam-2': { accept: 1e9, reject: 1e9 }, 'cam-3*': { accept: -1e9, reject: -1e9 } });
    const { t, inputs, events, global } = await runGate(names, cfg, 150);
    expect(t.missing).toEqual([]);
    expect([...t.duplicates]).toEqual([]);
    const by = (cam: string) => events.filter((e) => e.cameraId === cam);
    expect(by('cam-1').length).toBeGreaterThan(0);
    for (const e of by('cam-1')) expect([e.enforced, e.thresholds, e.decision]).toEqual([false, global, decide(e.score, global)]);
    expect(new Set(by('cam-2').map((e) => `${e.enforced} ${e.decision}`))).toEqual(new Set(['true REJECT']));
    expect(new Set(by('cam-3').map((e) => `${e.enforced} ${e.decision}`))).toEqual(new Set(['true ACCEPT']));
    for (const e of [...by('cam-4'), ...by('cam-5')]) expect([e.enforced, e.thresholds, e.decision]).toEqual([true, global, decide(e.score, global)]);
    console.log(`cameras-shadow: ${inputs.length} inputs, ${events.length} events, ${by('cam-1').length} shadow`);
  }, 180_000);

  it('reload should swap the camera policy while frames flow: 0 lost, 0 duplicates, each event decided by one whole policy', async () => {
    const names = uniqueNames('cameras-reload', kind);
    const COUNT = 600;
    const policies = [{}, { 'cam-*': { mode: 'shadow', accept: 1e9, reject: 1e9 } }, { 'cam-*': { accept: -1e9, reject: -1e9 } }];
    const swaps: number[] = [];
    const { t, inputs, events, global } = await runGate(names, configWith(names, policies[0]), COUNT, async (app) => {
      for (const [i, cameras] of policies.slice(1).entries()) {
        await waitFor(`frames to flow before reload ${i + 1}`, () => app.gate.counts.published >= ((i + 1) * COUNT) / 3, 60_000, 10);
        swaps.push(app.gate.counts.published);
        app.reload(configWith(names, cameras));
      }
    });
    // Which policy decided an event follows from what it carries; its decision must follow from that policy alone.
    const policyOf = (e: FaceQuality) => (e.thresholds.accept === global.accept && e.enforced ? 0 : e.thresholds.accept === 1e9 && !e.enforced ? 1 : e.thresholds.accept === -1e9 && e.enforced ? 2 : -1);
    const perPolicy = [0, 0, 0];
    for (const e of events) {
      const p = policyOf(e);
      expect(p, JSON.stringify(e)).toBeGreaterThanOrEqual(0);
      expect(e.decision).toBe(decide(e.score, e.thresholds));
      perPolicy[p]++;
    }
    console.log(`cameras-reload: ${inputs.length} inputs, reloads after ${swaps.join(' and ')} published; events per policy ${perPolicy.join(' / ')}; ${t.missing.length} missing, ${t.duplicates.size} duplicates`);
    expect(t.missing).toEqual([]);
    expect([...t.duplicates]).toEqual([]);
    expect(perPolicy.every((n) => n > 0)).toBe(true);
    await recordSummary({
      client: kind, test: 'camera-policy-reload', kinds: 3, faults: 2, faultsNote: 'camera policy reloaded while frames flow',
      inputs: inputs.length, lost: t.missing.length, duplicates: t.duplicates.size,
      notes: `events per policy ${perPolicy.join(' / ')}; every decision follows from the one policy it carries`,
    });
  }, 180_000);
});
