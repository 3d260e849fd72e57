import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/plugin/config/load.js';
import { createLogger } from '../../../src/plugin/core/log.js';
import { parseArgs } from '../../../src/plugin/cli/program.js';
import { logStartup, serviceConfigFile } from '../../../src/plugin/cli/startup.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const dest = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
  const log = createLogger('info', 'test', dest as never);
  return { log, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logStartup', () => {
  it.each(['run', 'escalate'])('serviceConfigFile should refuse %s without --config or --defaults, and with both', (command) => {
    expect(() => serviceConfigFile(parseArgs([command]))).toThrow(expect.objectContaining({ code: 'USAGE', message: `${command} needs --config FILE (keys: docs/configuration.md), or --defaults to run on the built-in defaults (127.0.0.1:9092, the default topics and groups, plus any DIFFIQA_GATE__ variables)` }));
    expect(() => serviceConfigFile(parseArgs([command, '--config', 'c.yaml', '--defaults']))).toThrow(expect.objectContaining({ code: 'USAGE', message: `${command} takes --config FILE or --defaults, not both` }));
    expect(serviceConfigFile(parseArgs([command, '--config', 'c.yaml']))).toBe('c.yaml');
    expect(serviceConfigFile(parseArgs([command, '--defaults']))).toBeUndefined();
  });

  it('logStartup should warn that the gate runs on defaults with --defaults, and log its brokers, topics, group, thresholds and models', () => {
    const { log, lines } = capture();
    logStartup(log, buildConfig({}, {}), { role: 'gate', configFile: undefined });
    const [warn, info] = lines();
    expect(warn).toMatchObject({ level: 40, brokers: ['127.0.0.1:9092'] });
    expect(String(warn.msg)).toContain('--defaults: running on the built-in defaults');
    const cfg = buildConfig({}, {});
    expect(info).toMatchObject({
      config: 'defaults', brokers: ['127.0.0.1:9092'], input: 'face-crops', output: 'face-quality', escalation: 'face-quality-escalation', dlq: 'face-quality-dlq', group: 'diffiqa-gate', msg: 'gate starting',
      thresholds: { accept: cfg.get('gate.accept'), reject: cfg.get('gate.reject') }, models: { regressor: cfg.get('models.regressor'), detector: cfg.get('models.detector') },
    });
  });

  it('logStartup should log the escalation stage\'s own topic, group and thresholds, and no warning with --config', () => {
    const { log, lines } = capture();
    const cfg = buildConfig({}, {}, { 'kafka.brokers': ['k:9092'], 'escalation.groupId': 'esc' });
    logStartup(log, cfg, { role: 'escalation', configFile: 'esc.yaml' });
    const all = lines();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ level: 30, config: 'esc.yaml', brokers: ['k:9092'], input: 'face-quality-escalation', group: 'esc', thresholds: { accept: cfg.get('escalation.accept'), reject: cfg.get('escalation.reject') } });
  });
});
