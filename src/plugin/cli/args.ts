import { GateError } from '../core/errors.js';

export interface Parsed { command: string; positional: string[]; flags: Record<string, string | boolean | string[]> }

/** Minimal argv parser: `--key value`, `--key=value`, `--flag`; repeated keys collect into a list. */
export function parseArgs(argv: string[], booleans: Set<string> = new Set()): Parsed {
  const [command = 'help', ...rest] = argv;
  const positional: string[] = [];
  const flags: Parsed['flags'] = {};
  const put = (k: string, v: string | boolean) => {
    const prev = flags[k];
    if (prev === undefined) flags[k] = v;
    else flags[k] = [...(Array.isArray(prev) ? prev : [String(prev)]), String(v)];
  };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--') { positional.push(...rest.slice(i + 1)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) put(a.slice(2, eq), a.slice(eq + 1));
      else if (booleans.has(a.slice(2))) put(a.slice(2), true);
      else {
        const v = rest[i + 1];
        if (v === undefined || v.startsWith('--')) throw new GateError('USAGE', `${a} needs a value`);
        put(a.slice(2), v);
        i++;
      }
    } else positional.push(a);
  }
  return { command, positional, flags };
}

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
