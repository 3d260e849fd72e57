import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/plugin/config/load.js';
import { createLogger } from '../../../src/plugin/core/log.js';
import { logStartup } from '../../../src/plugin/cli/startup.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const dest = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
  const log = createLogger('info', 'test', dest as never);
  return { log, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logStartup', () => {
  it('logStartup should warn that the gate runs on defaults without --config, and log its brokers, topics and group', () => {
    const { log, lines } = capture();
    logStartup(log, buildConfig({}, {}), { role: 'gate', configFile: undefined });
    const [warn, info] = lines();
    expect(warn).toMatchObject({ level: 40, brokers: ['127.0.0.1:9092'] });
    expect(String(warn.msg)).toContain('no --config given: running on the built-in defaults');
    expect(info).toMatchObject({ config: 'defaults', brokers: ['127.0.0.1:9092'], input: 'face-crops', output: 'face-quality', escalation: 'face-quality-escalation', dlq: 'face-quality-dlq', group: 'diffiqa-gate', msg: 'gate starting' });
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
