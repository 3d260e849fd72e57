import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { edcSvg, svgToPng } from '../../../src/tools/eval/plot.js';

const curve = (fnmr: number[]) => ({ discard: fnmr.map((_, i) => i / fnmr.length), fnmr });

describe('edcSvg', () => {
  const series = [
    { label: 'random (0.99)', curve: curve([0.1, 0.1, 0.09, 0.1]) },
    { label: 'a<b & "c"', curve: curve([0.1, 0.05, 0.02, 0]) },
  ];

  it('edcSvg should draw one step polyline and one legend entry per series, labels escaped', () => {
    const svg = edcSvg(series, { title: 'EDC test', xMax: 1 });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('a&lt;b &amp; &quot;c&quot;');
    expect(svg).not.toContain('a<b');
    // A step curve: every point appears twice in a row vertically (same y), 2 per sample.
    const points = svg.match(/<polyline [^>]*points="([^"]+)"/)![1].split(' ');
    expect(points).toHaveLength(8);
    expect(points[0].split(',')[1]).toBe(points[1].split(',')[1]);
    expect(svg).toContain('EDC test');
  });

  it('edcSvg should leave out points beyond xMax and non-finite values', () => {
    const svg = edcSvg([{ label: 'x', curve: { discard: [0, 0.25, 0.5, 0.75], fnmr: [0.2, NaN, 0.1, 0.05] } }], { title: 't', xMax: 0.5 });
    const points = svg.match(/points="([^"]+)"/)![1].split(' ');
    expect(points).toHaveLength(4);
    expect(svg).not.toContain('NaN');
  });

  it('edcSvg should take colour and dash from style, not from the legend position', () => {
    const strokes = (svg: string) => [...svg.matchAll(/<polyline fill="none" stroke="([^"]+)"/g)].map((m) => m[1]);
    const plain = strokes(edcSvg(series, { title: 't' }));
    expect(plain[0]).not.toBe(plain[1]);
    const swapped = strokes(edcSvg(series.map((s, i) => ({ ...s, style: 1 - i })), { title: 't' }));
    expect(swapped).toEqual([plain[1], plain[0]]);
  });

  it('svgToPng should render the SVG at its size', async () => {
    const png = await svgToPng(edcSvg(series, { title: 't', width: 500, height: 300 }));
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([500, 300]);
  });
});
