import { describe, expect, it } from 'vitest';
import { CameraLabels, OTHER_CAMERA } from '../../../src/plugin/telemetry/camera-labels.js';

/** Feeds frames round-robin by weight: weights {a: 3, b: 1} → a, a, a, b, a, a, a, b, … */
function feed(labels: CameraLabels, weights: Record<string, number>, frames: number, seen?: Set<string>): Map<string, string> {
  const cycle = Object.entries(weights).flatMap(([id, w]) => Array<string>(w).fill(id));
  const last = new Map<string, string>();
  for (let i = 0; i < frames; i++) {
    const id = cycle[i % cycle.length];
    const l = labels.label(id);
    last.set(id, l);
    seen?.add(l);
  }
  return last;
}

describe('CameraLabels', () => {
  it('label should give every camera its own id from its first frame while there are at most max cameras', () => {
    const labels = new CameraLabels(3, { window: 10 });
    expect(['a', 'b', 'c', 'a'].map((c) => labels.label(c))).toEqual(['a', 'b', 'c', 'a']);
    expect(labels.label('d')).toBe(OTHER_CAMERA);
  });

  it('label should hand the place of the quietest camera to a busier one at the next ranking, not keep the first seen', () => {
    const labels = new CameraLabels(2, { window: 100 });
    feed(labels, { quiet1: 1, quiet2: 1 }, 10);
    expect(labels.labelled).toEqual(new Set(['quiet1', 'quiet2']));
    const last = feed(labels, { busy: 8, quiet1: 1, quiet2: 3 }, 400);
    expect(labels.labelled).toEqual(new Set(['busy', 'quiet2']));
    expect(last.get('busy')).toBe('busy');
    expect(last.get('quiet1')).toBe(OTHER_CAMERA);
  });

  it('label should not let two cameras of similar traffic trade places', () => {
    const labels = new CameraLabels(1, { window: 100 });
    feed(labels, { a: 1 }, 1);
    feed(labels, { a: 2, b: 3 }, 1000);
    expect(labels.labelled).toEqual(new Set(['a']));
  });

  it('label should never give more than 2 × max cameras a series, however the busiest cameras change', () => {
    const labels = new CameraLabels(5, { window: 50 });
    const seen = new Set<string>();
    for (let phase = 0; phase < 40; phase++) {
      feed(labels, Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`p${phase}-c${i}`, 4])), 200, seen);
    }
    seen.delete(OTHER_CAMERA);
    expect(seen.size).toBe(10);
    expect(labels.labelled.size).toBe(5);
  });

  it('label should count every camera as other with max 0, and a camera named other as other', () => {
    expect(new CameraLabels(0).label('a')).toBe(OTHER_CAMERA);
    const labels = new CameraLabels(2);
    expect(labels.label(OTHER_CAMERA)).toBe(OTHER_CAMERA);
    expect(labels.labelled.size).toBe(0);
  });
});
