import path from 'node:path';
import { GateError } from '../../plugin/core/errors.js';
import { loadConfigFile } from '../../plugin/config/load.js';
import { labelFaces } from './label.js';
import { flagString, isCount, isIndex, numberFlag, type Parsed } from '../../plugin/cli/args.js';
import { EXIT } from '../../plugin/cli/exit.js';

/** `diffiqa-gate label --dataset DIR [--faces FILE] [--out FILE] [--denoiser ID] [--repeats R] [--limit N] [--start I]`. */
export default async function label(p: Parsed): Promise<number> {
  const dataset = flagString(p, 'dataset');
  if (!dataset) throw new GateError('USAGE', 'label needs --dataset DIR (a folder with faces.u8 from build-dataset)');
  const cfg = loadConfigFile(flagString(p, 'config'));
  const out = flagString(p, 'out') ?? path.join(dataset, 'labels.jsonl');
  const n = await labelFaces(cfg, dataset, out, {
    denoiserId: flagString(p, 'denoiser') ?? cfg.get('models.denoiser'),
    repeats: numberFlag(p, 'repeats', isCount) ?? cfg.get('escalation.repeats'),
    imagesPerCall: numberFlag(p, 'images-per-call', isCount) ?? 8,
    limit: numberFlag(p, 'limit', isCount),
    faceFile: flagString(p, 'faces'),
    start: numberFlag(p, 'start', isIndex),
  });
  process.stdout.write(JSON.stringify({ out, labelled: n }) + '\n');
  return EXIT.ok;
}
