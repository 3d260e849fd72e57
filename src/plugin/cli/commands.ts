import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GateError } from '../core/errors.js';
import type { Parsed } from './args.js';

/** A command's implementation: gets the parsed line, returns the exit code. */
export type CommandFn = (p: Parsed) => Promise<number>;

export interface OptionSpec {
  /** commander's flags string: `--model <id>`, `--quick`. */
  flags: string;
  help: string;
  /** May be given more than once; the values collect into a list. */
  repeat?: boolean;
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  /** Positional arguments in commander's syntax (`<inputs...>`); none when absent. */
  args?: string;
  summary: string;
  options: readonly OptionSpec[];
  /** A development tool's module, by path under src/: in a source checkout, not in the package or the images. */
  tool?: string;
  /** The product command's implementation, loaded only when it runs (so `score` starts fast). */
  load?: () => Promise<CommandFn>;
}

/** The command's implementation, loaded when it runs (a tool by its path, and it may be absent). */
export function loadCommand(spec: CommandSpec): Promise<CommandFn> {
  return spec.tool ? toolCommand(spec.name, spec.tool) : spec.load!();
}

const config: OptionSpec = { flags: '--config <file>', help: 'YAML config file (keys: docs/configuration.md); without it the defaults' };
/** The services take no silent defaults: a file, or the defaults asked for by name. */
const serviceConfig: readonly OptionSpec[] = [
  { flags: '--config <file>', help: 'YAML config file (keys: docs/configuration.md); this or --defaults is required' },
  { flags: '--defaults', help: 'run on the built-in defaults (127.0.0.1:9092, the default topics and groups) plus DIFFIQA_GATE__ variables, without a file' },
];

/** The flags `evaluate` and `calibrate` share (cli/evaluate.ts evalOptions). */
const evalFlags: readonly OptionSpec[] = [
  { flags: '--data <dir>', help: 'labelled face set (required): folders of images per identity' },
  { flags: '--identities <file>', help: 'identity list "file identity" per line (default <data>/identity.txt when present, else the folders)' },
  { flags: '--pairs <file>', help: 'verification pairs (LFW pairs.txt style) instead of generated ones' },
  { flags: '--scorer <id>', help: 'a quality scorer: a regressor id, diffiqa:<denoiser>, cascade:<inline>,diffiqa:<denoiser>, or a baseline; repeatable, comma lists too', repeat: true },
  { flags: '--fr <ids>', help: 'face-recognition models for verification (comma list; default models.embedder), e.g. mobilefacenet-dyn,dlib', repeat: true },
  { flags: '--band <lo,hi>', help: "a cascade's inline band sent to full DifFIQA (default gate.reject,gate.accept)" },
  { flags: '--spearman <a,b>', help: 'rank correlation of two scorers over the scored images; repeatable', repeat: true },
  { flags: '--fmr <rate>', help: 'false-match rate of the similarity threshold (default 1e-3)' },
  { flags: '--limit <n>', help: 'use at most N images' },
  { flags: '--impostors <n>', help: 'impostor pairs to generate' },
  { flags: '--repeats <r>', help: "full DifFIQA's perturbation repeats (default escalation.repeats)" },
  { flags: '--seed <s>', help: 'seed of the generated pairs and of the diffusion noise' },
  { flags: '--cache <dir>', help: 'score and embedding cache (default .cache/eval)' },
  config,
];

/**
 * Every command with its flags: commander parses and prints help from these same definitions,
 * so a flag cannot be accepted without being listed, nor listed without being accepted.
 */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'score', args: '<inputs...>', summary: 'score face images (files or folders): one line per file, a reason code for those that fail',
    options: [
      { flags: '--model <id>', help: 'a regressor id (default models.regressor), or diffiqa:<denoiser> for full DifFIQA' },
      { flags: '--repeats <r>', help: 'full DifFIQA perturbation repeats (with --model diffiqa:…; default escalation.repeats)' },
      { flags: '--format <format>', help: 'output lines', choices: ['jsonl', 'csv'] },
      config,
    ],
    load: async () => (await import('./score.js')).default,
  },
  { name: 'run', summary: 'the Kafka gate: consume FaceCrop, score, decide, publish (needs --config FILE or --defaults)', options: serviceConfig, load: async () => (await import('./run.js')).default },
  { name: 'escalate', summary: 'the full-DifFIQA stage for borderline frames, own consumer group (needs --config FILE or --defaults)', options: serviceConfig, load: async () => (await import('./escalate.js')).default },
  { name: 'serve', summary: 'HTTP scoring: POST /score with an image body → JSON result or coded error', options: [config], load: async () => (await import('./serve.js')).default },
  { name: 'config-doc', summary: 'print every config key with its default (docs/configuration.md)', options: [], load: async () => (await import('./config-doc.js')).default },
  {
    name: 'demo', tool: 'tools/demo/command.js', summary: 'local broker + camera-like stream + gate + escalation, with a live table',
    options: [
      { flags: '--frames <n>', help: 'crops to stream (default 240)' },
      { flags: '--rate <per-second>', help: 'frames produced per second (default 40)' },
      { flags: '--keep-broker', help: 'leave the local broker the demo started running' },
    ],
  },
  {
    name: 'evaluate', tool: 'plugin/cli/evaluate.js', summary: 'EDC / pAUC of quality scorers on a labelled face set (docs/evaluation.md)',
    options: [...evalFlags, { flags: '--out <dir>', help: 'where edc.{json,md,svg,png} go (default .cache/eval-results/<set>)' }],
  },
  {
    name: 'calibrate', tool: 'plugin/cli/calibrate.js', summary: 'accept/reject thresholds from evidence, as a config snippet',
    options: [
      ...evalFlags,
      { flags: '--target-discard <fraction>', help: 'share of frames to reject (one of this and --target-fnmr)' },
      { flags: '--target-fnmr <rate>', help: 'largest FNMR acceptable on the pairs let through' },
      { flags: '--escalation-budget <fraction>', help: 'share of frames to send to full DifFIQA (the borderline band)' },
      { flags: '--per-camera [file]', help: 'also a cameras: section calibrated per camera, from a "file camera" list (default <data>/camera.txt)' },
    ],
  },
  {
    name: 'build-dataset', tool: 'tools/datasets/build-command.js', summary: "aligned training crops with the product's own alignment",
    options: [
      { flags: '--data <dir>', help: 'face set to align (required)' },
      { flags: '--out <dir>', help: 'output folder (default .cache/datasets/lfw-aligned)' },
      { flags: '--limit <n>', help: 'at most N faces' },
      { flags: '--every <k>', help: 'every K-th image only' },
      config,
    ],
  },
  {
    name: 'label', tool: 'tools/datasets/label-command.js', summary: 'full-DifFIQA labels for a build-dataset folder',
    options: [
      { flags: '--dataset <dir>', help: 'a folder with faces.u8 from build-dataset (required)' },
      { flags: '--faces <file>', help: 'the faces file, when not <dataset>/faces.u8' },
      { flags: '--out <file>', help: 'labels (default <dataset>/labels.jsonl; appended, so a run resumes)' },
      { flags: '--denoiser <id>', help: 'denoiser model (default models.denoiser)' },
      { flags: '--repeats <r>', help: 'perturbation repeats (default escalation.repeats)' },
      { flags: '--images-per-call <n>', help: 'faces per diffusion call (default 8)' },
      { flags: '--limit <n>', help: 'at most N faces' },
      { flags: '--start <i>', help: 'first face index' },
      config,
    ],
  },
  {
    name: 'bench', tool: 'tools/bench/command.js', summary: 'benchmarks: JSON + markdown under bench/results (BENCHMARKS.md)',
    options: [
      { flags: '--quick', help: 'short runs' },
      { flags: '--prep', help: 'the preparation benchmark only' },
      { flags: '--only <sections>', help: 'comma list of bare, gate, peer, diffusion' },
      { flags: '--out <dir>', help: 'results folder (default bench/results)' },
      { flags: '--profile <dir>', help: 'write CPU profiles there' },
      config,
    ],
  },
];

/**
 * The development tools' commands, by path under src/ (the CLI is their entry; the product never
 * imports them). The package and the Docker images ship without them, so they are found at run
 * time by a computed path, which the compiler and the import linter do not follow.
 * evaluate and calibrate import src/tools/eval; their commands are still under cli/.
 */
async function toolCommand(name: string, file: string): Promise<CommandFn> {
  const url = new URL(`../../${file}`, import.meta.url);
  try {
    return ((await import(url.href)) as { default: CommandFn }).default;
  } catch (err) {
    // The command's module, or the tools it imports, not installed (the tools folder is left out whole).
    const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
      && (String((err as Error).message).includes(fileURLToPath(url)) || !existsSync(fileURLToPath(new URL('../../tools/', import.meta.url))));
    if (!missing) throw err;
    throw new GateError('USAGE', `"${name}" is a development tool, not part of this installation (the package and the images ship the product only): run it from a source checkout`);
  }
}
