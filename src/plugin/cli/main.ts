import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GateError, toGateError } from '../core/errors.js';
import { loadConfigFile } from '../config/load.js';
import { flagString, isCount, numberFlag, parseArgs, type Parsed } from './args.js';

import { EXIT } from './exit.js';

const HELP = `diffiqa-gate <command> [options]

  score <files|folders...> [--model ID | --model diffiqa:<denoiser> [--repeats R]] [--format jsonl|csv] [--config FILE]
      Score face crops with the DifFIQA(R) regressor, or full DifFIQA; one line per image.
  run --config FILE         The Kafka gate: consume FaceCrop, score, decide, publish.
  escalate --config FILE    The full-DifFIQA stage for borderline frames.
  serve --config FILE       HTTP scoring: POST /score with an image body, JSON result or coded error.

Development tools (src/tools; in a source checkout, not in the package or the images):
  demo                      Local broker + camera-like stream + gate, with a live summary.
  evaluate --data DIR ...   EDC / pAUC of quality scorers on a labelled face set.
  calibrate --data DIR ...  Accept/reject thresholds from evidence.
  bench [--quick] [--only S] Benchmarks (JSON + markdown under bench/results); S: bare,gate,peer,diffusion.

Every config key can be set by env: DIFFIQA_GATE__<SECTION>__<KEY> (e.g. DIFFIQA_GATE__GATE__ACCEPT=0.7).
`;

type Command = (p: Parsed) => Promise<number>;

const commands: Record<string, Command> = {
  async score(p) {
    const { scoreCommand } = await import('./score.js');
    const format = flagString(p, 'format') ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'csv') throw new GateError('USAGE', `--format must be jsonl or csv, got ${format}`);
    const cfg = loadConfigFile(flagString(p, 'config'));
    await scoreCommand({ inputs: p.positional, model: flagString(p, 'model'), format, repeats: numberFlag(p, 'repeats', isCount) }, cfg);
    return EXIT.ok;
  },
  async help() {
    process.stdout.write(HELP);
    return EXIT.ok;
  },
};

export function registerCommand(name: string, fn: Command): void {
  commands[name] = fn;
}

export async function main(argv: string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv, new Set(['quick', 'full', 'prep', 'no-escalate', 'keep-broker']));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${HELP}`);
    return EXIT.usage;
  }
  try {
    const cmd = commands[parsed.command] ?? (await lazyCommand(parsed.command));
    if (!cmd) {
      process.stderr.write(`unknown command "${parsed.command}"\n\n${HELP}`);
      return EXIT.usage;
    }
    return await cmd(parsed);
  } catch (err) {
    const e = toGateError(err);
    process.stderr.write(`diffiqa-gate ${parsed.command}: [${e.code}] ${e.message}\n`);
    // A model id that is not in the manifest is a usage error too (score --model, config keys).
    return e.code === 'USAGE' || e.code === 'CONFIG_INVALID' || e.code === 'MODEL_UNKNOWN' ? EXIT.usage : EXIT.failure;
  }
}

/** Heavier commands load their modules only when asked for, so `score` starts fast. */
async function lazyCommand(name: string): Promise<Command | undefined> {
  const table: Record<string, () => Promise<{ default: Command }>> = {
    run: () => import('./run.js'),
    escalate: () => import('./escalate.js'),
    serve: () => import('./serve.js'),
    'config-doc': () => import('./config-doc.js'),
  };
  if (name in TOOLS) return toolCommand(name, TOOLS[name]);
  const load = table[name];
  if (!load) return undefined;
  try {
    return (await load()).default;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/**
 * The development tools' commands, by path under src/ (the CLI is their entry; the product never
 * imports them). The package and the Docker images ship without them, so they are found at run
 * time by a computed path, which the compiler and the import linter do not follow.
 * evaluate and calibrate import src/tools/eval; their commands are still under cli/.
 */
const TOOLS: Record<string, string> = {
  bench: 'tools/bench/command.js',
  demo: 'tools/demo/command.js',
  'build-dataset': 'tools/datasets/build-command.js',
  label: 'tools/datasets/label-command.js',
  evaluate: 'plugin/cli/evaluate.js',
  calibrate: 'plugin/cli/calibrate.js',
};

async function toolCommand(name: string, file: string): Promise<Command> {
  const url = new URL(`../../${file}`, import.meta.url);
  try {
    return ((await import(url.href)) as { default: Command }).default;
  } catch (err) {
    // The command's module, or the tools it imports, not installed (the tools folder is left out whole).
    const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
      && (String((err as Error).message).includes(fileURLToPath(url)) || !existsSync(fileURLToPath(new URL('../../tools/', import.meta.url))));
    if (!missing) throw err;
    throw new GateError('USAGE', `"${name}" is a development tool, not part of this installation (the package and the images ship the product only): run it from a source checkout`);
  }
}
