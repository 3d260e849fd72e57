/**
 * The canary split on the real broker (issue 22): a candidate regressor also scores one camera and
 * a share of the other frames; its score rides on the event beside the regressor's, deciding
 * nothing, and the app compares the two distributions. Needs a broker, ../shared and the fixtures.
 */
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/plugin/pipeline/stages/decide.js';
import { splitPoint } from '../../src/plugin/pipeline/stages/canary.js';
import { KAFKA_CLIENTS, gateConfig, uniqueNames } from '../helpers/gate-harness.js';
import { inProcessGateSuite, recordSummary, runInProcessGate } from './support.js';

const COUNT = 300;
const PARTITIONS = 3;
const suite = inProcessGateSuite();

describe.each(KAFKA_CLIENTS)('canary (real broker) (%s)', (kind) => {
  it('startGate should score the canary split with the candidate too, both scores on the event, and compare the distributions', async () => {
    const names = uniqueNames('canary', kind);
    const cfg = gateConfig(names, suite.fx, { 'kafka.maxMessageBytes': 64_000, 'canary.model': 'diffiqa-r-own', 'canary.fraction': 0.2, 'canary.cameras': ['cam-2'] });
    const { app, t, inputs, events } = await runInProcessGate(suite.fx, names, cfg, { count: COUNT, partitions: PARTITIONS });
    const canary = app.canary!;
    expect(t.missing).toEqual([]);
    expect([...t.duplicates]).toEqual([]);
    const inSplit = events.filter((e) => e.cameraId === 'cam-2' || splitPoint(e.frameId) < 0.2);
    expect(events.filter((e) => e.canary).map((e) => e.frameId).sort()).toEqual(inSplit.map((e) => e.frameId).sort());
    for (const e of inSplit) {
      expect(e.canary).toMatchObject({ modelId: 'diffiqa-r-own', decision: decide(e.canary!.score, e.thresholds) });
      expect(e.model.id).toBe('tiny-regressor');
    }
    const s = canary.comparison.summary();
    const others = events.filter((e) => e.cameraId !== 'cam-2');
    console.log(`canary: ${events.length} events, ${inSplit.length} in the split (cam-2 all, ${others.filter((e) => e.canary).length}/${others.length} of the others); window: regressor median ${s.regressor.median.toFixed(3)} accept ${s.regressor.acceptRate.toFixed(2)}, candidate median ${s.candidate.median.toFixed(3)} accept ${s.candidate.acceptRate.toFixed(2)}, agreement ${s.agreement.toFixed(2)}`);
    expect(canary.counts).toEqual({ scored: inSplit.length, failed: 0 });
    expect(s.count).toBe(Math.min(inSplit.length, cfg.get('drift.windowSize')));
    expect(s.medianShift).toBeCloseTo(s.candidate.median - s.regressor.median, 9);
    await recordSummary({
      client: kind, test: 'canary-split', kinds: 2, faults: 0, faultsNote: 'a candidate regressor beside the gate\'s',
      inputs: inputs.length, lost: t.missing.length, duplicates: t.duplicates.size,
      notes: `${inSplit.length} events carry both scores (one camera + 20 % of the rest by frame id)`,
    });
  }, 180_000);
});
