import { GateError } from '../core/errors.js';

/**
 * Per-camera decision policy: the `cameras` section of the config file.
 *
 * ```yaml
 * cameras:
 *   entrance-*: { mode: shadow }                    # a glob: * any run of characters, ? one character
 *   kiosk-*:    { accept: 0.85, reject: 0.80 }
 *   kiosk-7:    { mode: enforce, escalate: false }  # an exact id
 *   lobby-?:    { escalation: { accept: 0.95, reject: 0.90 } }
 * ```
 *
 * The most specific entry wins, whatever the order: an exact id before any glob, then the glob with
 * the most literal characters (`kiosk-*` before `k*`), then the one written first. Order alone would
 * be fragile here: YAML mappings keyed by numbers (camera `12`) come back reordered in JavaScript.
 * A key an entry leaves out comes from the global keys (gate.accept, gate.reject, gate.escalate,
 * escalation.accept, escalation.reject; mode: enforce). Entries do not inherit from one another.
 *
 * `shadow`: every frame is scored and decided as under `enforce` (escalated too), and its final
 * event says `enforced: false`; consumers drop nothing on its decision.
 */
export type CameraMode = 'enforce' | 'shadow';

export interface CameraRule {
  mode: CameraMode;
  accept: number;
  reject: number;
  /** Borderline frames go to full DifFIQA; false: their final event carries the regression decision. */
  escalate: boolean;
  /** Thresholds on full DifFIQA's score scale, for the escalation stage. */
  escalation: { accept: number; reject: number };
}

interface Entry { pattern: string; regex: RegExp | null; literal: number; rule: CameraRule }

/** An immutable policy: the gate swaps a whole one in on reload, never edits it. */
export class CameraPolicy {
  readonly defaults: CameraRule;
  readonly #entries: Entry[];
  /** Resolved rules by camera id; bounded, since camera ids come from the input. */
  readonly #cache = new Map<string, CameraRule>();

  constructor(defaults: CameraRule, entries: Entry[] = []) {
    this.defaults = defaults;
    this.#entries = [...entries].sort((a, b) => Number(a.regex !== null) - Number(b.regex !== null) || b.literal - a.literal);
  }

  /** The patterns in the order they are tried. */
  get patterns(): string[] { return this.#entries.map((e) => e.pattern); }

  for(cameraId: string): CameraRule {
    let rule = this.#cache.get(cameraId);
    if (rule) return rule;
    rule = this.#entries.find((e) => (e.regex ? e.regex.test(cameraId) : e.pattern === cameraId))?.rule ?? this.defaults;
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(cameraId, rule);
    return rule;
  }
}

const MAX_CACHED = 10_000;

/** Where the current policy lives; swapped whole between batches (a stage reads it once a batch). */
export class PolicySwitch {
  #current: CameraPolicy;
  constructor(policy: CameraPolicy) { this.#current = policy; }
  get current(): CameraPolicy { return this.#current; }
  swap(next: CameraPolicy): CameraPolicy {
    const prev = this.#current;
    this.#current = next;
    return prev;
  }
}

/** A camera glob (`*` any run, `?` one character) as a regex; null for a plain id. */
export function globRegex(pattern: string): RegExp | null {
  if (!/[*?]/.test(pattern)) return null;
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

const RULE_KEYS = new Set(['mode', 'accept', 'reject', 'escalate', 'escalation']);

function parseRule(pattern: string, raw: unknown, d: CameraRule): CameraRule {
  const key = (k: string) => `cameras."${pattern}"${k ? `.${k}` : ''}`;
  const bad = (k: string, why: string) => new GateError('CONFIG_INVALID', `config key ${key(k)}: ${why}`, { details: { key: key(k) } });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('', `expected a mapping of mode, accept, reject, escalate, escalation, got ${JSON.stringify(raw)}`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!RULE_KEYS.has(k)) throw bad(k, 'unknown key (mode, accept, reject, escalate, escalation)');
  const num = (k: string, v: unknown, fallback: number) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(k, `expected a number, got ${JSON.stringify(v)}`);
    return v;
  };
  if (o.mode !== undefined && o.mode !== 'enforce' && o.mode !== 'shadow') throw bad('mode', `expected one of enforce, shadow, got ${JSON.stringify(o.mode)}`);
  if (o.escalate !== undefined && typeof o.escalate !== 'boolean') throw bad('escalate', `expected true or false, got ${JSON.stringify(o.escalate)}`);
  const esc = o.escalation ?? {};
  if (esc === null || typeof esc !== 'object' || Array.isArray(esc)) throw bad('escalation', `expected a mapping of accept, reject, got ${JSON.stringify(esc)}`);
  const e = esc as Record<string, unknown>;
  for (const k of Object.keys(e)) if (k !== 'accept' && k !== 'reject') throw bad(`escalation.${k}`, 'unknown key (accept, reject)');
  const rule: CameraRule = {
    mode: (o.mode as CameraMode | undefined) ?? d.mode,
    accept: num('accept', o.accept, d.accept),
    reject: num('reject', o.reject, d.reject),
    escalate: (o.escalate as boolean | undefined) ?? d.escalate,
    escalation: { accept: num('escalation.accept', e.accept, d.escalation.accept), reject: num('escalation.reject', e.reject, d.escalation.reject) },
  };
  if (rule.reject > rule.accept) throw bad('reject', `(${rule.reject}) must not exceed accept (${rule.accept})`);
  if (rule.escalation.reject > rule.escalation.accept) throw bad('escalation.reject', `(${rule.escalation.reject}) must not exceed escalation.accept (${rule.escalation.accept})`);
  return rule;
}

/** The `cameras` section → a policy; errors name the key (`cameras."kiosk-*".accept`). */
export function parseCameras(raw: unknown, defaults: CameraRule): CameraPolicy {
  if (raw === undefined || raw === null) return new CameraPolicy(defaults);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GateError('CONFIG_INVALID', `config section "cameras": expected a mapping of camera id or glob to its settings, got ${JSON.stringify(raw)}`, { details: { key: 'cameras' } });
  }
  const entries = Object.entries(raw).map(([pattern, v]): Entry => ({
    pattern, regex: globRegex(pattern), literal: pattern.replace(/[*?]/g, '').length, rule: parseRule(pattern, v, defaults),
  }));
  return new CameraPolicy(defaults, entries);
}
