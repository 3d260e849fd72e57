import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../../src/plugin/cli/program.js';
import label from '../../../src/tools/datasets/label-command.js';

describe('label', () => {
  // Typos must stop the command before any model loads, not turn into NaN ranges of faces.
  it.each([
    ['--start', '-1'], ['--start', 'x'], ['--start', '1.5'], ['--limit', '0'], ['--repeats', 'ten'], ['--images-per-call', ''],
  ])('label should refuse %s %j with a USAGE error', async (flag, value) => {
    await expect(label(parseArgs(['label', '--dataset', 'no-such-folder', flag, value]))).rejects.toMatchObject({ code: 'USAGE', message: `${flag} got an invalid value "${value}"` });
  });
});
