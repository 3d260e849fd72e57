/**
 * The config file is watched (reload.watchMs, debounced by reload.debounceMs): a running
 * `diffiqa-gate run` (built CLI, child process, real broker) applies a changed cameras section
 * without any signal; a file that does not load is refused (logged and counted in
 * diffiqa_reloads_total) and the running policy stays. Nothing lost or duplicated across both.
 * Needs a broker, ../shared and the fixtures.
 */
import { describe, expect, it } from 'vitest';
import { freePorts } from '../../src/tools/demo/broker.js';
import { KAFKA_CLIENTS } from '../helpers/gate-harness.js';
import { runReloadScenario } from './reload-scenario.js';
import { childGateSuite } from './support.js';

const gates = childGateSuite('diffiqa-reload-watch-');

describe.each(KAFKA_CLIENTS)('config reload by file watch (real broker) (%s)', (kind) => {
  it('run should apply a changed cameras section when its file changes, without a signal, and keep the running one when the file is bad', async () => {
    const [port] = await freePorts(1);
    const reloads = async () => {
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return [...body.matchAll(/^diffiqa_reloads_total\{what="config",result="(\w+)"\} (\d+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    };
    await runReloadScenario({
      gates, kind, name: 'reload-watch',
      extra: { 'telemetry.metricsPort': port, 'reload.watchMs': 100, 'reload.debounceMs': 300 },
      trigger: () => {},
      afterShadow: async () => { expect(await reloads()).toEqual(['failed 0']); },
      // One reload per file written: the writes of one file fall within the quiet time.
      afterEnforced: async () => { expect(await reloads()).toEqual(['applied 1', 'failed 1']); },
    });
  }, 240_000);
});
