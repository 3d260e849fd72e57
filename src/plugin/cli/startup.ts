import type { Config } from '../config/load.js';
import { GateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { flagString, type Parsed } from './args.js';

/**
 * The config file of `run` / `escalate`, undefined for --defaults. Neither is a usage error: a
 * service that quietly starts on 127.0.0.1:9092 and the default topics looks deployed and is not.
 */
export function serviceConfigFile(p: Parsed): string | undefined {
  const file = flagString(p, 'config');
  const defaults = p.flags.defaults === true;
  if (!file && !defaults) throw new GateError('USAGE', `${p.command} needs --config FILE (keys: docs/configuration.md), or --defaults to run on the built-in defaults (127.0.0.1:9092, the default topics and groups, plus any DIFFIQA_GATE__ variables)`);
  if (file && defaults) throw new GateError('USAGE', `${p.command} takes --config FILE or --defaults, not both`);
  return file;
}

/**
 * The effective Kafka wiring, thresholds and models, logged once at start; on --defaults a
 * warning says so first: a service on the built-in defaults (127.0.0.1:9092, the default topics
 * and groups) must not look like a configured one.
 */
export function logStartup(log: Logger, cfg: Config, o: { role: 'gate' | 'escalation'; configFile: string | undefined }): void {
  if (!o.configFile) {
    log.warn({ brokers: cfg.get('kafka.brokers') }, '--defaults: running on the built-in defaults (plus any DIFFIQA_GATE__ variables); pass --config FILE for a deployment');
  }
  const gate = o.role === 'gate';
  log.info({
    config: o.configFile ?? 'defaults',
    brokers: cfg.get('kafka.brokers'),
    input: gate ? cfg.get('kafka.inputTopic') : cfg.get('kafka.escalationTopic'),
    output: cfg.get('kafka.outputTopic'),
    ...(gate ? { escalation: cfg.get('gate.escalate') ? cfg.get('kafka.escalationTopic') : 'off' } : {}),
    dlq: cfg.get('kafka.dlqTopic'),
    group: gate ? cfg.get('kafka.groupId') : cfg.get('escalation.groupId'),
    thresholds: gate ? { accept: cfg.get('gate.accept'), reject: cfg.get('gate.reject') } : { accept: cfg.get('escalation.accept'), reject: cfg.get('escalation.reject') },
    models: gate ? { regressor: cfg.get('models.regressor'), detector: cfg.get('models.detector') } : { denoiser: cfg.get('models.denoiser'), embedder: cfg.get('models.embedder') },
  }, `${o.role} starting`);
}
