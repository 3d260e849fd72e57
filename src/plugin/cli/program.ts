import { Command, CommanderError, Option } from 'commander';
import { GateError } from '../core/errors.js';
import type { Parsed } from './args.js';
import { COMMANDS, type CommandSpec } from './commands.js';

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

const FOOTER = `
Development tools (demo, evaluate, calibrate, build-dataset, label, bench) run from a source
checkout; the package and the images ship the product only.
Every config key can be set by env: DIFFIQA_GATE__<SECTION>__<KEY> (e.g. DIFFIQA_GATE__GATE__ACCEPT=0.7).
Exit codes: 0 ok, 1 failure, 2 usage or invalid configuration, 3 drain deadline exceeded, 4 fatal.`;

/**
 * The CLI as a commander program built from COMMANDS: `--help`, `-h`, `help <command>` and each
 * command's help come from the definitions that parse. `onAction` gets each parsed command line.
 * Commander never exits the process: its errors are thrown (CommanderError) for the caller to map.
 */
export function buildProgram(onAction: (spec: CommandSpec, p: Parsed) => Promise<void> | void, output?: { out: (s: string) => void; err: (s: string) => void }): Command {
  const program = new Command('diffiqa-gate')
    .description('A face-image-quality gate for Kafka: DifFIQA(R) inline, full DifFIQA for borderline frames.')
    .usage('<command> [options]')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', FOOTER);
  if (output) program.configureOutput({ writeOut: output.out, writeErr: output.err });
  for (const spec of COMMANDS) {
    const cmd = program.command(spec.name).summary(spec.tool ? `${spec.summary} [development tool]` : spec.summary).description(spec.summary);
    if (spec.args) cmd.argument(spec.args);
    else cmd.allowExcessArguments(false);
    for (const o of spec.options) {
      const opt = new Option(o.flags, o.help);
      if (o.repeat) opt.argParser(collect);
      if (o.choices) opt.choices(o.choices);
      cmd.addOption(opt);
    }
    cmd.action((...a: unknown[]) => onAction(spec, toParsed(spec, a[a.length - 1] as Command)));
  }
  return program;
}

/** commander's result as the commands read it: flags by long name, in the order given (the reports quote the command line). */
function toParsed(spec: CommandSpec, cmd: Command): Parsed {
  const values = cmd.opts();
  // commander keeps the line as given (rawArgs) but does not declare it.
  const raw = (cmd.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs ?? [];
  const at = (name: string) => { const i = raw.findIndex((a) => a === name || a.startsWith(`${name}=`)); return i < 0 ? Infinity : i; };
  const given = cmd.options.filter((o) => values[o.attributeName()] !== undefined).sort((a, b) => at(a.long!) - at(b.long!));
  const flags: Parsed['flags'] = {};
  for (const o of given) flags[o.long!.slice(2)] = values[o.attributeName()] as string | boolean | string[];
  return { command: spec.name, positional: [...cmd.args], flags };
}

/**
 * Parses a command line (without running it) as the CLI does: unknown commands or flags, a
 * missing value and a bad choice are USAGE errors.
 */
export function parseArgs(argv: string[]): Parsed {
  let parsed: Parsed | undefined;
  const quiet = () => undefined;
  const program = buildProgram((_, p) => { parsed = p; }, { out: quiet, err: quiet });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new GateError('USAGE', err.message.replace(/^error: /, ''));
    throw err;
  }
  if (!parsed) throw new GateError('USAGE', 'no command given');
  return parsed;
}
