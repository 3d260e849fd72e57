import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../../src/plugin/cli/program.js';
import buildDataset from '../../../src/tools/datasets/build-command.js';
import demo from '../../../src/tools/demo/command.js';

// Typos must stop the command before a broker starts or a model loads, not become NaN counts.
describe('demo and build-dataset flags', () => {
  it.each([['--frames', '0'], ['--frames', 'many'], ['--rate', '-5'], ['--rate', '']])('demo should refuse %s %j with a USAGE error', async (flag, value) => {
    await expect(demo(parseArgs(['demo', flag, value]))).rejects.toMatchObject({ code: 'USAGE', message: `${flag} got an invalid value "${value}"` });
  });

  it.each([['--limit', '0'], ['--every', '1.5'], ['--every', 'x']])('build-dataset should refuse %s %j with a USAGE error', async (flag, value) => {
    await expect(buildDataset(parseArgs(['build-dataset', '--data', 'no-such-folder', flag, value]))).rejects.toMatchObject({ code: 'USAGE', message: `${flag} got an invalid value "${value}"` });
  });
});
