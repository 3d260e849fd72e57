import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/plugin/cli/main.js';
import { parseArgs } from '../../../src/plugin/cli/program.js';
import { COMMANDS } from '../../../src/plugin/cli/commands.js';

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
});
afterEach(() => { vi.restoreAllMocks(); });

const longFlag = (flags: string) => flags.split(' ')[0];

describe('CLI', () => {
  it.each([['--help'], ['-h'], ['help'], []])('main %j should print the help listing every command and exit 0', async (...argv) => {
    expect(await main(argv.filter(Boolean))).toBe(0);
    const help = out.join('');
    for (const c of COMMANDS) expect(help).toMatch(new RegExp(`^  ${c.name} `, 'm'));
    for (const name of ['build-dataset', 'label', 'config-doc', 'evaluate', 'calibrate', 'serve', 'demo', 'bench']) expect(help).toContain(`  ${name} `);
  });

  it.each(COMMANDS.map((c) => [c.name]))('main should print the help of %s with every flag it parses, for help <command>, --help and -h', async (name) => {
    const spec = COMMANDS.find((c) => c.name === name)!;
    for (const argv of [['help', name], [name, '--help'], [name, '-h']]) {
      out.length = 0;
      expect(await main(argv), argv.join(' ')).toBe(0);
      const help = out.join('');
      expect(help).toContain(`Usage: diffiqa-gate ${name}`);
      for (const o of spec.options) expect(help, o.flags).toContain(longFlag(o.flags));
    }
  });

  it.each([
    [['no-such-command'], "unknown command 'no-such-command'"],
    [['score', '--no-such-flag', 'x.jpg'], "unknown option '--no-such-flag'"],
    [['score', 'x.jpg', '--model'], "'--model <id>' argument missing"],
    [['score', '--format', 'xml', 'x.jpg'], 'Allowed choices are jsonl, csv'],
    [['score'], "missing required argument 'inputs'"],
    [['run', 'extra'], 'too many arguments'],
    [['run'], '[USAGE] run needs --config FILE (keys: docs/configuration.md), or --defaults'],
    [['escalate'], '[USAGE] escalate needs --config FILE'],
    [['run', '--config', 'c.yaml', '--defaults'], '[USAGE] run takes --config FILE or --defaults, not both'],
    [['help', 'no-such-command'], ''],
    [['calibrate', '--data', 'd', '--target-discard', 'lots'], '[USAGE] --target-discard got an invalid value "lots"'],
  ])('main %j should exit 2 with the usage error on stderr', async (argv, message) => {
    expect(await main(argv)).toBe(2);
    expect(err.join('')).toContain(message);
  });

  it('parseArgs should give flags by long name, repeatable ones as lists, and the positional arguments', () => {
    const p = parseArgs(['evaluate', '--data', 'd', '--scorer', 'a', '--scorer', 'b,c', '--fmr', '1e-4', '--limit', '5']);
    expect(p).toEqual({ command: 'evaluate', positional: [], flags: { data: 'd', scorer: ['a', 'b,c'], fmr: '1e-4', limit: '5' } });
    expect(parseArgs(['bench', '--quick', '--only', 'gate']).flags).toEqual({ quick: true, only: 'gate' });
    expect(parseArgs(['calibrate', '--data', 'd', '--per-camera']).flags['per-camera']).toBe(true);
    expect(parseArgs(['calibrate', '--data', 'd', '--per-camera', 'cams.txt']).flags['per-camera']).toBe('cams.txt');
    expect(parseArgs(['score', 'a.jpg', 'dir', '--model', 'm']).positional).toEqual(['a.jpg', 'dir']);
    expect(() => parseArgs(['bench', '--nope'])).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
