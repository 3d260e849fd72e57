/**
 * Model rollout on the real broker (issue 22): the regressor's manifest entry changes while frames
 * flow (another file, sha256-checked, another version); the gate notices the manifest (models.watchMs),
 * loads the new sessions beside the old ones and switches between batches. 0 lost, 0 duplicates,
 * and every event names the model version that scored it. Needs a broker, ../shared and the fixtures.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { subscribeTo } from '../../src/plugin/core/diagnostic.js';
import { packageRoot } from '../../src/plugin/core/paths.js';
import { inferenceChannels, type ModelSwappedEvent } from '../../src/plugin/inference/pool.js';
import { KAFKA_CLIENTS, gateConfig, uniqueNames, waitFor } from '../helpers/gate-harness.js';
import { inProcessGateSuite, recordSummary, runInProcessGate } from './support.js';

const COUNT = 600;
const PARTITIONS = 3;
const suite = inProcessGateSuite();

describe.each(KAFKA_CLIENTS)('model swap (real broker) (%s)', (kind) => {
  it('startGate should swap a changed regressor in between batches while frames flow: 0 lost, 0 duplicates, each event naming its version', async () => {
    const names = uniqueNames('model-swap', kind);
    const cfg = gateConfig(names, suite.fx, { 'kafka.maxMessageBytes': 64_000, 'models.watchMs': 100 });
    const swaps: ModelSwappedEvent[] = [];
    let swappedAt = 0;
    // The fixture is the file's, shared by both clients' runs: the manifest goes back afterwards, or
    // the second run would start on the swapped model and its rewrite would change nothing.
    const original = await readFile(suite.fx.manifestPath, 'utf8');
    const run = runInProcessGate(suite.fx, names, cfg, {
      count: COUNT, partitions: PARTITIONS, paceMs: 120,
      during: async (app) => {
        const unsubscribe = subscribeTo(inferenceChannels.modelSwapped, app.runtime.pool, (e) => swaps.push(e));
        await waitFor('frames to flow before the swap', () => app.gate.counts.published >= COUNT / 3, 60_000, 10);
        // The fixture regressor's entry now names the project's own regressor: same input, another file.
        const file = path.join(packageRoot(), 'models', 'own', 'diffiqa-r-own.onnx');
        const manifest = JSON.parse(await readFile(suite.fx.manifestPath, 'utf8')) as { models: Record<string, unknown>[] };
        Object.assign(manifest.models[0], { file: 'diffiqa-r-own.onnx', bundledPath: 'models/own/diffiqa-r-own.onnx', version: 'swapped', sha256: createHash('sha256').update(await readFile(file)).digest('hex') });
        await writeFile(suite.fx.manifestPath, JSON.stringify(manifest));
        await waitFor('the watcher to swap the model', () => swaps.length > 0, 30_000, 20);
        swappedAt = app.gate.counts.published;
        unsubscribe();
      },
    });
    const { t, inputs, events } = await run.finally(() => writeFile(suite.fx.manifestPath, original));
    const byVersion = (v: string) => events.filter((e) => e.model.version === v);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [before, after] = [byVersion('fixture'), byVersion('swapped')];
    console.log(`model-swap: ${inputs.length} inputs, swap after ${swappedAt} published; ${before.length} events by the fixture (mean ${mean(before.map((e) => e.score)).toFixed(3)}), ${after.length} by the swapped model (mean ${mean(after.map((e) => e.score)).toFixed(3)}); ${t.missing.length} missing, ${t.duplicates.size} duplicates`);
    expect(t.missing).toEqual([]);
    expect([...t.duplicates]).toEqual([]);
    expect(swaps.map((s) => [s.modelId, s.from.version, s.to.version])).toEqual([['tiny-regressor', 'fixture', 'swapped']]);
    expect(before.length + after.length).toBe(events.length);
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    // Another network scores the same face differently (frame n shows face n mod 50): the label follows the session that ran.
    const face = (e: { frameId: string }) => Number(e.frameId.slice(e.frameId.lastIndexOf('-') + 1)) % 50;
    const old = new Map(before.map((e) => [face(e), e.score]));
    const pairs = after.filter((e) => old.has(face(e))).map((e) => [old.get(face(e))!, e.score]);
    console.log(`model-swap: same face, fixture vs swapped: ${pairs.slice(0, 3).map(([a, b]) => `${a.toFixed(4)} → ${b.toFixed(4)}`).join(', ')}`);
    expect(pairs.length).toBeGreaterThan(0);
    expect(pairs.every(([a, b]) => Math.abs(a - b) > 1e-6)).toBe(true);
    await recordSummary({
      client: kind, test: 'model-swap', kinds: 1, faults: 1, faultsNote: 'regressor swapped (manifest changed) while frames flow',
      inputs: inputs.length, lost: t.missing.length, duplicates: t.duplicates.size,
      notes: `${before.length} events by the old version, ${after.length} by the new; every event names the version that scored it`,
    });
  }, 180_000);
});
