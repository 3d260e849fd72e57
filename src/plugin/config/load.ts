import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { GateError } from '../core/errors.js';
import { CameraPolicy, parseCameras } from './cameras.js';
import { schema, type ConfigKey, type KeySpec } from './schema.js';

type ValueOf<K extends ConfigKey> = (typeof schema)[K]['default'] extends readonly string[] ? string[] : (typeof schema)[K]['default'] extends number ? number : (typeof schema)[K]['default'] extends boolean ? boolean : string;

/** Flat, validated configuration: `cfg.get('gate.accept')`; the `cameras` section as a policy. */
export class Config {
  readonly #values: Map<string, unknown>;
  /** Per-camera mode and thresholds (see cameras.ts); without a `cameras` section, the global keys for every camera. */
  readonly cameras: CameraPolicy;
  constructor(values: Map<string, unknown>, cameras?: CameraPolicy) {
    this.#values = values;
    this.cameras = cameras ?? parseCameras(undefined, defaultRule(this));
  }
  get<K extends ConfigKey>(key: K): ValueOf<K> { return this.#values.get(key) as ValueOf<K>; }
  toJSON(): Record<string, unknown> { return Object.fromEntries(this.#values); }
}

function defaultRule(cfg: Config) {
  return {
    mode: 'enforce' as const, accept: cfg.get('gate.accept'), reject: cfg.get('gate.reject'), escalate: cfg.get('gate.escalate'),
    escalation: { accept: cfg.get('escalation.accept'), reject: cfg.get('escalation.reject') },
  };
}

/** `DIFFIQA_GATE__GATE__ACCEPT=0.7` sets `gate.accept`: env wins over the file. */
export function envName(key: string): string {
  return 'DIFFIQA_GATE__' + key.split('.').map((p) => p.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()).join('__');
}

/** Sections of the schema (`kafka`, `gate`…): a value given for one of them must be a mapping of its keys. */
const sections = new Set(Object.keys(schema).map((k) => k.slice(0, k.lastIndexOf('.'))));

function flatten(obj: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v) && !(key in schema)) flatten(v, key, out);
      else if (sections.has(key)) throw new GateError('CONFIG_INVALID', `config section "${key}": expected a mapping of its keys, got ${JSON.stringify(v)}`, { details: { key } });
      else out.set(key, v);
    }
  }
  return out;
}

/** A misspelled DIFFIQA_GATE__ variable would otherwise be ignored without a word. */
function checkEnvNames(env: NodeJS.ProcessEnv): void {
  const known = new Set(Object.keys(schema).map(envName));
  const unknown = Object.keys(env).filter((name) => name.startsWith('DIFFIQA_GATE__') && !known.has(name)).sort();
  if (unknown.length > 0) {
    throw new GateError('CONFIG_INVALID', `unknown environment variable${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: no config key has that name (see docs/configuration.md)`, { details: { key: unknown[0] } });
  }
}

function coerce(key: string, spec: KeySpec, raw: unknown, fromEnv: boolean): unknown {
  const bad = (why: string) => new GateError('CONFIG_INVALID', `config key "${key}"${fromEnv ? ` (env ${envName(key)})` : ''}: ${why}`, { details: { key } });
  let v = raw;
  if (fromEnv && typeof raw === 'string') {
    if (spec.kind === 'string[]') v = raw.split(',').map((s) => s.trim()).filter(Boolean);
    else if (spec.kind === 'number' || spec.kind === 'integer') v = raw.trim() === '' ? NaN : Number(raw);
    else if (spec.kind === 'boolean') v = raw === 'true' ? true : raw === 'false' ? false : raw;
  }
  switch (spec.kind) {
    case 'string': if (typeof v !== 'string') throw bad(`expected a string, got ${JSON.stringify(v)}`); break;
    case 'boolean': if (typeof v !== 'boolean') throw bad(`expected true or false, got ${JSON.stringify(v)}`); break;
    case 'string[]':
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw bad(`expected a list of strings, got ${JSON.stringify(v)}`);
      if (spec.min !== undefined && v.length < spec.min) throw bad(`expected at least ${spec.min} entr${spec.min === 1 ? 'y' : 'ies'}, got ${JSON.stringify(v)}`);
      break;
    case 'enum': if (typeof v !== 'string' || !spec.values!.includes(v)) throw bad(`expected one of ${spec.values!.join(', ')}, got ${JSON.stringify(v)}`); break;
    case 'number':
    case 'integer':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`expected a number, got ${JSON.stringify(raw)}`);
      if (spec.kind === 'integer' && !Number.isInteger(v)) throw bad(`expected an integer, got ${v}`);
      if (spec.min !== undefined && v < spec.min) throw bad(`must be >= ${spec.min}, got ${v}`);
      if (spec.max !== undefined && v > spec.max) throw bad(`must be <= ${spec.max}, got ${v}`);
  }
  return v;
}

/** Builds the configuration: defaults ← file ← env ← overrides. Unknown keys are errors (typos must not pass silently). */
export function buildConfig(fileValues: unknown = {}, env: NodeJS.ProcessEnv = process.env, overrides: Record<string, unknown> = {}): Config {
  // `cameras` is keyed by camera ids and globs, not by schema keys: it is read apart (cameras.ts).
  const { cameras, ...rest } = fileValues && typeof fileValues === 'object' && !Array.isArray(fileValues) ? fileValues as Record<string, unknown> : { cameras: undefined };
  const given = flatten(rest);
  checkEnvNames(env);
  for (const key of given.keys()) {
    if (!(key in schema)) throw new GateError('CONFIG_INVALID', `unknown config key "${key}"`, { details: { key } });
  }
  const values = new Map<string, unknown>();
  for (const [key, spec] of Object.entries(schema) as [string, KeySpec][]) {
    const envValue = env[envName(key)];
    if (key in overrides) values.set(key, coerce(key, spec, overrides[key], false));
    else if (envValue !== undefined) values.set(key, coerce(key, spec, envValue, true));
    else if (given.has(key)) values.set(key, coerce(key, spec, given.get(key), false));
    else values.set(key, spec.default);
  }
  const accept = values.get('gate.accept') as number, reject = values.get('gate.reject') as number;
  if (reject > accept) throw new GateError('CONFIG_INVALID', `config key "gate.reject" (${reject}) must not exceed "gate.accept" (${accept})`, { details: { key: 'gate.reject' } });
  const ea = values.get('escalation.accept') as number, er = values.get('escalation.reject') as number;
  if (er > ea) throw new GateError('CONFIG_INVALID', `config key "escalation.reject" (${er}) must not exceed "escalation.accept" (${ea})`, { details: { key: 'escalation.reject' } });
  if (values.get('registry.type') === 'http' && !values.get('registry.url')) throw new GateError('CONFIG_INVALID', 'config key "registry.url" is required when registry.type is http', { details: { key: 'registry.url' } });
  const cfg = new Config(values);
  return cameras === undefined ? cfg : new Config(values, parseCameras(cameras, defaultRule(cfg)));
}

export function loadConfigFile(file: string | undefined, env: NodeJS.ProcessEnv = process.env, overrides: Record<string, unknown> = {}): Config {
  if (!file) return buildConfig({}, env, overrides);
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) { throw new GateError('CONFIG_INVALID', `cannot read config file ${file}: ${(err as Error).message}`); }
  let parsed: unknown;
  try { parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text); } catch (err) { throw new GateError('CONFIG_INVALID', `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`); }
  return buildConfig(parsed ?? {}, env, overrides);
}
