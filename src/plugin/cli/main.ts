import { CommanderError } from 'commander';
import { toGateError } from '../core/errors.js';
import { loadCommand } from './commands.js';
import { buildProgram } from './program.js';
import { EXIT } from './exit.js';

/**
 * The CLI: parses with the commander program built from cli/commands.ts and runs the command.
 * Usage errors (unknown command or flag, missing value, bad choice, USAGE / CONFIG_INVALID /
 * MODEL_UNKNOWN from the command) exit 2; help exits 0.
 */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  let command = '';
  const program = buildProgram(async (spec, p) => {
    command = spec.name;
    const run = await loadCommand(spec);
    code = await run(p);
  });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const e = toGateError(err);
    process.stderr.write(`diffiqa-gate ${command}: [${e.code}] ${e.message}\n`);
    // A model id that is not in the manifest is a usage error too (score --model, config keys).
    return e.code === 'USAGE' || e.code === 'CONFIG_INVALID' || e.code === 'MODEL_UNKNOWN' ? EXIT.usage : EXIT.failure;
  }
}
