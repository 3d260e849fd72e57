import sharp from 'sharp';
import type { EdcCurve } from './metrics.js';

export interface PlotSeries {
  label: string;
  curve: EdcCurve;
  /** Picks colour and dash; default the series' position. Fix it per scorer so plots of different sets match. */
  style?: number;
}

export interface PlotOptions {
  title: string;
  /** Right end of the discard axis. */
  xMax?: number;
  width?: number;
  height?: number;
}

/** Colour-blind-safe (Okabe-Ito) first, then a few more. */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442', '#7F7F7F', '#8C564B'];
const DASHES = ['', '6 3', '2 2', '8 3 2 3'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => Number(v.toFixed(2)).toString();

/** Round step for about `n` ticks over [0, max]: 1, 2 or 5 × 10^k. */
function tickStep(max: number, n: number): number {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

function ticks(max: number, n: number): number[] {
  const step = tickStep(max, n);
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/**
 * EDC curves as a standalone SVG: FNMR against the fraction of genuine comparisons discarded,
 * drawn as steps (the curve is not interpolated), with the pAUC limits 0.2 and 0.3 marked.
 * Plain SVG elements and one font family, so librsvg (sharp) renders it as browsers do.
 */
export function edcSvg(series: readonly PlotSeries[], opts: PlotOptions): string {
  const W = opts.width ?? 860, H = opts.height ?? 480;
  const m = { left: 70, right: 300, top: 40, bottom: 55 };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  const xMax = opts.xMax ?? 0.5;
  const visible = series.flatMap((s) => s.curve.fnmr.filter((_, i) => s.curve.discard[i] <= xMax));
  // A floor of 1 % keeps an all-zero plot from zooming into rounding noise.
  const peak = Math.max(0.01, ...visible.filter(Number.isFinite));
  const yStep = tickStep(peak * 1.05, 5);
  const yMax = Math.ceil((peak * 1.05) / yStep) * yStep;
  const X = (d: number) => m.left + (d / xMax) * pw;
  const Y = (f: number) => m.top + ph - (f / yMax) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, Helvetica, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(opts.title)}</text>`);

  for (const t of ticks(xMax, 5)) {
    out.push(`<line x1="${fmt(X(t))}" y1="${m.top}" x2="${fmt(X(t))}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${fmt(X(t))}" y="${m.top + ph + 18}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(yMax, 5)) {
    out.push(`<line x1="${m.left}" y1="${fmt(Y(t))}" x2="${m.left + pw}" y2="${fmt(Y(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${fmt(Y(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  for (const limit of [0.2, 0.3].filter((l) => l < xMax)) {
    out.push(`<line x1="${fmt(X(limit))}" y1="${m.top}" x2="${fmt(X(limit))}" y2="${m.top + ph}" stroke="#999999" stroke-dasharray="4 4"/>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 15}" text-anchor="middle">fraction of genuine comparisons discarded (lowest quality first)</text>`);
  out.push(`<text transform="translate(20 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">FNMR at the fixed threshold</text>`);

  series.forEach((s, i) => {
    const k = s.style ?? i;
    const colour = COLOURS[k % COLOURS.length];
    // Dashes as well as colours, so the curves stay apart in print and for colour-blind readers.
    const dash = DASHES[k % DASHES.length];
    const pts: string[] = [];
    const { discard, fnmr } = s.curve;
    for (let i = 0; i < discard.length && discard[i] <= xMax; i++) {
      if (!Number.isFinite(fnmr[i])) continue;
      const end = Math.min(i + 1 < discard.length ? discard[i + 1] : 1, xMax);
      pts.push(`${fmt(X(discard[i]))},${fmt(Y(fnmr[i]))}`, `${fmt(X(end))},${fmt(Y(fnmr[i]))}`);
    }
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${pts.join(' ')}"/>`);
    const ly = m.top + 10 + i * 20;
    const lx = m.left + pw + 15;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${lx + 34}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The same plot as PNG, rendered by sharp (librsvg). */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}
