import { GateError } from '../core/errors.js';

/** A parsed command line (cli/program.ts): flags by their long name (`target-discard`), lists for repeatable ones. */
export interface Parsed { command: string; positional: string[]; flags: Record<string, string | boolean | string[]> }

export function flagString(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v[v.length - 1];
  return String(v);
}

export function flagList(p: Parsed, name: string): string[] {
  const v = p.flags[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
}

/** A number flag, checked: typos must not turn into NaN thresholds or counts silently. */
export function numberFlag(p: Parsed, name: string, check: (v: number) => boolean = Number.isFinite): number | undefined {
  const raw = flagString(p, name);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !check(v)) throw new GateError('USAGE', `--${name} got an invalid value "${raw}"`);
  return v;
}

export const isCount = (v: number) => Number.isInteger(v) && v >= 1;
export const isIndex = (v: number) => Number.isInteger(v) && v >= 0;
