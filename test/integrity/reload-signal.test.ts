/**
 * SIGHUP reloads the camera policy of a running `diffiqa-gate run` (built CLI, child process,
 * real broker): a file with an error is refused and the running policy stays; a good one applies
 * to the frames after it, nothing lost or duplicated. Needs a broker, ../shared and the fixtures.
 */
import { describe, it } from 'vitest';
import { KAFKA_CLIENTS } from '../helpers/gate-harness.js';
import { runReloadScenario } from './reload-scenario.js';
import { childGateSuite } from './support.js';

const gates = childGateSuite('diffiqa-reload-');

describe.each(KAFKA_CLIENTS)('config reload by signal (real broker) (%s)', (kind) => {
  it('run should apply a changed cameras section on SIGHUP between batches, and keep the running one when the file is bad', async () => {
    await runReloadScenario({ gates, kind, name: 'reload-signal', trigger: (child) => child.proc.kill('SIGHUP') });
  }, 240_000);
});
