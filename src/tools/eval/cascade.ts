import { GateError } from '../../plugin/core/errors.js';
import { nextUp } from './metrics.js';
import { DIFFIQA_PREFIX, resolveScorers, type EvalScorer, type ScorerContext } from './scorers.js';

/**
 * The gate as one scorer: `cascade:<inline id>,diffiqa:<denoiser id>`. Every image keeps its inline
 * score unless that falls in the escalation band [reject, accept); there full DifFIQA decides, as
 * the gate's escalation stage does. Only the band's images need full DifFIQA.
 */
export const CASCADE_PREFIX = 'cascade:';

/** [reject, accept): the inline scores the gate sends to full DifFIQA. */
export type Band = readonly [number, number];

export interface CascadeScorer {
  readonly id: string;
  readonly key: string;
  readonly inline: EvalScorer;
  readonly full: EvalScorer;
  readonly band: Band;
}

export type LineupScorer = EvalScorer | CascadeScorer;

export function isCascade(s: LineupScorer): s is CascadeScorer {
  return 'band' in s;
}

/**
 * Splits `--scorer` values on commas, keeping `cascade:<inline>,diffiqa:<denoiser>` as one id:
 * the item after a `cascade:` item is always its full-DifFIQA part.
 */
export function splitScorerList(values: readonly string[]): string[] {
  const items = values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < items.length; i++) {
    if (!items[i].startsWith(CASCADE_PREFIX)) { out.push(items[i]); continue; }
    const full = items[i + 1];
    if (!full?.startsWith(DIFFIQA_PREFIX)) throw new GateError('USAGE', `${items[i]} needs its full-DifFIQA part next: ${items[i]},${DIFFIQA_PREFIX}<denoiser id>`);
    out.push(`${items[i]},${full}`);
    i++;
  }
  return out;
}

/** `cascade:<inline>,diffiqa:<denoiser>` → its two scorer ids. */
export function parseCascade(id: string): { inline: string; full: string } {
  const m = /^cascade:([^,]+),(diffiqa:[^,]+)$/.exec(id);
  if (!m || m[1].startsWith(DIFFIQA_PREFIX) || m[1].startsWith(CASCADE_PREFIX)) {
    throw new GateError('USAGE', `cascade scorer "${id}" must be ${CASCADE_PREFIX}<inline id>,${DIFFIQA_PREFIX}<denoiser id>`);
  }
  return { inline: m[1], full: m[2] };
}

export function checkBand(band: Band): Band {
  if (!(Number.isFinite(band[0]) && Number.isFinite(band[1]) && band[0] <= band[1])) {
    throw new GateError('USAGE', `escalation band must be LO,HI with LO <= HI, got ${band.join(',')}`);
  }
  return band;
}

export const inBand = (inline: number, [lo, hi]: Band): boolean => inline >= lo && inline < hi;

/**
 * The cascade's quality of one image. Outside the band it is the inline score; inside, full
 * DifFIQA's q mapped into [lo, hi) by lo + (hi − lo)·(½ + atan(q)/π), strictly increasing in q for
 * any real q, so the order is: below the band < the band by full DifFIQA < above the band.
 */
export function cascadeQuality(inline: number, full: number | undefined, band: Band): number {
  if (!inBand(inline, band)) return inline;
  if (full === undefined || !Number.isFinite(full)) throw new GateError('INTERNAL', `in-band image without a full-DifFIQA score (${full})`);
  const [lo, hi] = band;
  const v = lo + (hi - lo) * (0.5 + Math.atan(full) / Math.PI);
  // Rounding can land on hi itself: step back to the largest float64 below it.
  return Math.max(lo, v < hi ? v : -nextUp(-hi));
}

/**
 * The line-up: plain scorers (resolveScorers) and cascades of two of them. The cascade's key names
 * both parts' keys and the band, though the cascade stores nothing itself: its parts' cached scores
 * are reused.
 */
export function resolveLineup(ids: readonly string[], ctx: ScorerContext, band: Band): LineupScorer[] {
  const seen = new Set<string>();
  return ids.map((id) => {
    if (seen.has(id)) throw new GateError('USAGE', `scorer ${id} is listed twice`);
    seen.add(id);
    if (!id.startsWith(CASCADE_PREFIX)) return resolveScorers([id], ctx)[0];
    const parts = parseCascade(id);
    const [inline, full] = resolveScorers([parts.inline, parts.full], ctx);
    checkBand(band);
    return { id, key: `cascade(${inline.key},${full.key})[${band[0]},${band[1]})`, inline, full, band };
  });
}
