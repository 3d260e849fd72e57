import type { Config } from '../config/load.js';
import type { Logger } from '../core/log.js';
import type { Stage } from '../core/stage.js';
import type { ConsumerPort, KafkaClient } from '../kafka/port.js';
import { Gate, logGateTrouble, type OutputBuilder } from '../gate/gate.js';
import { checkTopics } from '../gate/topics.js';
import { Backpressure } from '../pipeline/backpressure.js';
import { createCodec, createRegistry, type Topics } from '../pipeline/codecs.js';
import { buildOutputs } from '../pipeline/outputs.js';
import { Pipeline, type StageWrapper } from '../pipeline/pipeline.js';
import { DecideStage } from '../pipeline/stages/decide.js';
import { DecodeMessageStage } from '../pipeline/stages/decode-message.js';
import { PrepareStage, prepareOptions } from '../pipeline/stages/prepare.js';
import { RegressStage } from '../pipeline/stages/regress.js';
import { CanaryStage } from '../pipeline/stages/canary.js';
import { RegressScorer } from '../scorers/scorers.js';
import { runtimeFromConfig } from './runtime.js';
import type { ModelRuntime } from '../scorers/runtime.js';
import { Lifecycle } from '../core/lifecycle.js';
import { drainThenClose, leaveKafkaOnClose } from './shutdown.js';
import { modelReloader, watchModels } from './models-watch.js';
import { policyReload, type PolicyReload } from './reload.js';

const canarySplit = (cfg: Config) => ({ fraction: cfg.get('canary.fraction'), cameras: cfg.get('canary.cameras') });

export function topicsFrom(cfg: Config): Topics {
  return { input: cfg.get('kafka.inputTopic'), output: cfg.get('kafka.outputTopic'), escalation: cfg.get('kafka.escalationTopic'), dlq: cfg.get('kafka.dlqTopic') };
}

/** What telemetry plugs into an app; the apps themselves stay telemetry-free. */
export interface AppHooks {
  /** Applied to every stage (spans and stage metrics). */
  wrap?: StageWrapper;
  /** The parts, once built and before the first record is consumed (subscribe to their events here). */
  attach?(parts: AppParts): Promise<void> | void;
  /** The consumer joined its group: the app is ready. */
  started?(): void;
  /**
   * Gets the app's stages in order (their names: decode, prepare, regress, decide, canary when configured; escalation:
   * decode, diffiqa) and returns those to run: add your own, replace or leave some out. Stages
   * left out are closed at once. Runs before the wrapper.
   */
  stages?(defaults: Stage[]): Stage[];
}

/** The stages the hooks choose from the defaults; the ones dropped are closed. */
export async function chooseStages(defaults: Stage[], h: AppHooks): Promise<Stage[]> {
  if (!h.stages) return defaults;
  const chosen = h.stages([...defaults]);
  await Promise.all(defaults.filter((s) => !chosen.includes(s)).map((s) => s.close()));
  return chosen;
}

/** `canary`: the gate's canary stage when `canary.model` is set (telemetry compares its two distributions). */
export interface AppParts { role: 'gate' | 'escalation'; gate: Gate; runtime: ModelRuntime; consumer: ConsumerPort; pressure?: Backpressure; canary?: CanaryStage }

export interface GateApp {
  gate: Gate;
  runtime: ModelRuntime;
  pressure: Backpressure;
  provider: string;
  /** The canary split's stage (config `canary.model`): its comparison of the two score distributions. */
  canary?: CanaryStage;
  /** Applies a new config's `cameras` section (and the global thresholds it inherits) between batches; `run` calls it on SIGHUP. */
  reload: PolicyReload['reload'];
  /** Stops fetching and drains within the deadline, then releases everything. true = clean. */
  shutdown(deadlineMs: number): Promise<boolean>;
}

/** Wires config → models → stages → Kafka. Start-up order: models first (fail fast), then Kafka. */
export async function startGate(cfg: Config, client: KafkaClient, log: Logger, hooks?: StageWrapper | AppHooks): Promise<GateApp> {
  const h: AppHooks = typeof hooks === 'function' ? { wrap: hooks } : hooks ?? {};
  const topics = topicsFrom(cfg);
  // Every part registers its close hook as it starts; shutdown (or a failed start) runs them in reverse.
  const life = new Lifecycle();
  const rt = runtimeFromConfig(cfg);
  life.onClose('models', () => rt.close());
  const regressorId = cfg.get('models.regressor');
  try {
    const { provider } = await rt.load(regressorId);
    await rt.load(cfg.get('models.detector'));
    const candidateId = cfg.get('canary.model');
    if (candidateId) await rt.load(candidateId);
    log.info({ model: regressorId, executionProvider: provider, canary: candidateId || undefined }, 'models loaded');

    const registry = await createRegistry(cfg.get('registry.type'), cfg.get('registry.url'));
    const codec = createCodec(registry, topics);
    const thresholds = { accept: cfg.get('gate.accept'), reject: cfg.get('gate.reject') };
    const reloadModels = modelReloader(rt, log);
    life.onClose('model watch', watchModels(cfg, rt, reloadModels));
    const canary = candidateId
      ? new CanaryStage(new RegressScorer(rt, candidateId), canarySplit(cfg), cfg.get('drift.windowSize'))
      : undefined;
    const { policy, reload } = policyReload(cfg, log, rt, reloadModels, (next) => canary?.setSplit(canarySplit(next)));
    const pressure = new Backpressure(rt.batcher(regressorId));
    const pipeline = new Pipeline(await chooseStages([
      new DecodeMessageStage(codec, cfg.get('kafka.maxMessageBytes')),
      new PrepareStage(rt, prepareOptions(cfg)),
      new RegressStage(new RegressScorer(rt, regressorId), pressure),
      new DecideStage(policy),
      ...(canary ? [canary] : []),
    ], h), h.wrap);
    life.onClose('stages', () => pipeline.close());

    const { deadLetterMaxOriginalBytes } = await checkTopics(client, topics, log);

    const exactlyOnce = cfg.get('delivery.mode') === 'exactly_once';
    const consumer = client.consumer({ groupId: cfg.get('kafka.groupId'), sessionTimeoutMs: cfg.get('kafka.sessionTimeoutMs') });
    const producer = client.producer(exactlyOnce ? { transactionalIdPrefix: `${cfg.get('kafka.groupId')}-` } : {});
    leaveKafkaOnClose(life, consumer, producer);
    const build: OutputBuilder = (frames, how) => buildOutputs(frames, codec, {
      topics, thresholds, escalate: cfg.get('gate.escalate'), provisional: cfg.get('gate.provisionalEvents'),
      deadLetterMaxOriginalBytes: how?.compact ? 0 : deadLetterMaxOriginalBytes,
    });
    const gate = new Gate(consumer, producer, pipeline, build, {
      groupId: cfg.get('kafka.groupId'), inputTopic: topics.input, exactlyOnce, retryBudgetMs: cfg.get('gate.retryBudgetMs'),
      inFlightPerPartition: cfg.get('gate.inFlightPerPartition'), partitionsConcurrently: cfg.get('gate.partitionsConcurrently'),
    });
    pressure.attach(gate);
    life.onClose('gate logs', logGateTrouble(gate, log));
    await h.attach?.({ role: 'gate', gate, runtime: rt, consumer, pressure, canary });
    await gate.start();
    h.started?.();
    log.info({ input: topics.input, group: cfg.get('kafka.groupId'), delivery: cfg.get('delivery.mode') }, 'gate running');

    return { gate, runtime: rt, pressure, provider, canary, reload, shutdown: drainThenClose(gate, life) };
  } catch (err) {
    await life.close();
    throw err;
  }
}
