import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig, envName, loadConfigFile } from '../../../src/plugin/config/load.js';

describe('buildConfig', () => {
  it('buildConfig should fill defaults and read nested file values', () => {
    const cfg = buildConfig({ gate: { accept: 0.7, reject: 0.3 }, kafka: { brokers: ['a:1', 'b:2'] } }, {});
    expect(cfg.get('gate.accept')).toBe(0.7);
    expect(cfg.get('kafka.brokers')).toEqual(['a:1', 'b:2']);
    expect(cfg.get('inference.maxBatch')).toBe(16);
  });

  it('buildConfig should let env override the file for every key kind', () => {
    const env = { [envName('gate.accept')]: '0.8', [envName('kafka.brokers')]: 'x:1, y:2', [envName('gate.provisionalEvents')]: 'true', [envName('delivery.mode')]: 'exactly_once' };
    const cfg = buildConfig({ gate: { accept: 0.7 } }, env);
    expect(envName('gate.inFlightPerPartition')).toBe('DIFFIQA_GATE__GATE__IN_FLIGHT_PER_PARTITION');
    expect(cfg.get('gate.accept')).toBe(0.8);
    expect(cfg.get('kafka.brokers')).toEqual(['x:1', 'y:2']);
    expect(cfg.get('gate.provisionalEvents')).toBe(true);
    expect(cfg.get('delivery.mode')).toBe('exactly_once');
  });

  it('buildConfig should name the key of a bad value, an unknown key and an env typo', () => {
    expect(() => buildConfig({ inference: { maxBatch: 0 } }, {})).toThrow(/"inference.maxBatch": must be >= 1/);
    expect(() => buildConfig({ gate: { acept: 1 } }, {})).toThrow(/unknown config key "gate.acept"/);
    expect(() => buildConfig({}, { [envName('gate.reject')]: 'abc' })).toThrow(/"gate.reject" \(env DIFFIQA_GATE__GATE__REJECT\): expected a number/);
    expect(() => buildConfig({ gate: { accept: 0.2, reject: 0.5 } }, {})).toThrow(/"gate.reject"/);
    expect(() => buildConfig({ delivery: { mode: 'twice' } }, {})).toThrow(/"delivery.mode": expected one of/);
  });

  it('buildConfig should refuse an empty broker list, from the file and from env', () => {
    expect(() => buildConfig({ kafka: { brokers: [] } }, {})).toThrow(/"kafka.brokers": expected at least 1 entry/);
    expect(() => buildConfig({}, { [envName('kafka.brokers')]: ' , ' })).toThrow(/"kafka.brokers" \(env DIFFIQA_GATE__KAFKA__BROKERS\): expected at least 1 entry/);
  });

  it('buildConfig should name an unknown DIFFIQA_GATE__ variable instead of ignoring it', () => {
    const err = (() => { try { buildConfig({}, { DIFFIQA_GATE__KAFKA__BROKRS: 'a:1', DIFFIQA_GATE__GATE__ACCEPT: '0.9', OTHER: 'x' }); } catch (e) { return e; } })();
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'DIFFIQA_GATE__KAFKA__BROKRS' } });
    expect(String(err)).toMatch(/unknown environment variable DIFFIQA_GATE__KAFKA__BROKRS/);
  });

  it('buildConfig should report a section given as a scalar as the wrong type, not as an unknown key', () => {
    expect(() => buildConfig({ kafka: 'oops' }, {})).toThrow(/config section "kafka": expected a mapping of its keys, got "oops"/);
    expect(() => buildConfig({ gate: [1, 2] }, {})).toThrow(/config section "gate": expected a mapping/);
  });

  it('loadConfigFile should read YAML and JSON and report a syntax error with the file name', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    writeFileSync(path.join(dir, 'c.yaml'), 'gate:\n  accept: 0.65\n  reject: 0.5\n');
    writeFileSync(path.join(dir, 'c.json'), '{"gate": {"reject": 0.1}}');
    writeFileSync(path.join(dir, 'bad.yaml'), 'gate: [');
    expect(loadConfigFile(path.join(dir, 'c.yaml'), {}).get('gate.accept')).toBe(0.65);
    expect(loadConfigFile(path.join(dir, 'c.json'), {}).get('gate.reject')).toBe(0.1);
    expect(() => loadConfigFile(path.join(dir, 'bad.yaml'), {})).toThrow(/bad.yaml is not valid YAML/);
  });
});
