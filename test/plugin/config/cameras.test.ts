import { describe, expect, it } from 'vitest';
import { CameraPolicy, parseCameras, PolicySwitch } from '../../../src/plugin/config/cameras.js';
import { buildConfig } from '../../../src/plugin/config/load.js';
import { GateError } from '../../../src/plugin/core/errors.js';

const d = { mode: 'enforce' as const, accept: 0.8, reject: 0.7, escalate: true, escalation: { accept: 0.9, reject: 0.9 } };

describe('cameras', () => {
  it('for should prefer an exact id, then the glob with the most literal characters, then the earlier entry', () => {
    const p = parseCameras({ 'k*': { accept: 0.1, reject: 0.1 }, 'kiosk-*': { accept: 0.2, reject: 0.2 }, 'kiosk-7': { accept: 0.3, reject: 0.3 }, 'kiosk-9*': { accept: 0.4, reject: 0.4 }, 'kiosk-?': { accept: 0.5, reject: 0.5 } }, d);
    expect(p.for('kiosk-7').accept).toBe(0.3);
    expect(p.for('kiosk-8').accept).toBe(0.2); // kiosk-* and kiosk-? both have 6 literals: the earlier wins
    expect(p.for('kiosk-9').accept).toBe(0.4); // 7 literals
    expect(p.for('kx').accept).toBe(0.1);
    expect(p.for('lobby')).toBe(d);
    expect(p.patterns).toEqual(['kiosk-7', 'kiosk-9*', 'kiosk-*', 'kiosk-?', 'k*']);
  });

  it('for should match numeric camera ids exactly, whatever order YAML gives them', () => {
    const p = parseCameras({ 12: { mode: 'shadow' }, 1: { mode: 'enforce' }, '1*': { mode: 'shadow', accept: 0.75 } }, d);
    expect(p.for('1').mode).toBe('enforce');
    expect(p.for('12').mode).toBe('shadow');
    expect(p.for('12').accept).toBe(0.8); // entries inherit the global keys, not one another
    expect(p.for('13')).toMatchObject({ mode: 'shadow', accept: 0.75 });
  });

  it('for should treat regex characters in a pattern literally', () => {
    const p = parseCameras({ 'cam.1*': { mode: 'shadow' } }, d);
    expect(p.for('cam.12').mode).toBe('shadow');
    expect(p.for('camX12').mode).toBe('enforce');
  });

  it('parseCameras should fill left-out keys from the global rule', () => {
    const r = parseCameras({ 'a-*': { mode: 'shadow', escalate: false, escalation: { reject: 0.5 } } }, d).for('a-1');
    expect(r).toEqual({ mode: 'shadow', accept: 0.8, reject: 0.7, escalate: false, escalation: { accept: 0.9, reject: 0.5 } });
  });

  it('parseCameras should name the key of a bad entry', () => {
    const key = (raw: unknown) => { try { parseCameras(raw, d); return 'no error'; } catch (err) { expect(err).toBeInstanceOf(GateError); return (err as GateError).details?.key; } };
    expect(key({ 'k-*': { mode: 'off' } })).toBe('cameras."k-*".mode');
    expect(key({ 'k-*': { accept: '0.5' } })).toBe('cameras."k-*".accept');
    expect(key({ 'k-*': { acept: 0.5 } })).toBe('cameras."k-*".acept');
    expect(key({ 'k-*': { accept: 0.5, reject: 0.6 } })).toBe('cameras."k-*".reject');
    expect(key({ 'k-*': { escalation: { accept: 0.5, reject: 0.6 } } })).toBe('cameras."k-*".escalation.reject');
    expect(key({ 'k-*': { escalate: 'yes' } })).toBe('cameras."k-*".escalate');
    expect(key({ 'k-*': 'shadow' })).toBe('cameras."k-*"');
    expect(key(['k-*'])).toBe('cameras');
  });

  it('buildConfig should read the cameras section apart from the flat keys, inheriting the file\'s global thresholds', () => {
    const cfg = buildConfig({ gate: { accept: 0.6, reject: 0.5, escalate: false }, cameras: { 'door-*': { mode: 'shadow' } } }, {});
    expect(cfg.cameras.for('door-1')).toMatchObject({ mode: 'shadow', accept: 0.6, reject: 0.5, escalate: false });
    expect(cfg.cameras.for('other')).toMatchObject({ mode: 'enforce', accept: 0.6 });
    expect(buildConfig({}, {}).cameras.patterns).toEqual([]);
    expect(() => buildConfig({ cameras: { x: { mode: 'off' } } }, {})).toThrow(/cameras."x".mode/);
  });

  it('swap should replace the whole policy at once and return the previous one', () => {
    const a = new CameraPolicy(d), b = parseCameras({ '*': { mode: 'shadow' } }, d);
    const s = new PolicySwitch(a);
    expect(s.swap(b)).toBe(a);
    expect(s.current.for('any').mode).toBe('shadow');
  });
});
