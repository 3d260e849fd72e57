import type { Config } from '../config/load.js';
import type { Logger } from '../core/log.js';
import type { KafkaClient } from '../kafka/port.js';
import { Gate, logGateTrouble } from '../gate/gate.js';
import { createCodec, createRegistry } from '../pipeline/codecs.js';
import { Pipeline, type StageWrapper } from '../pipeline/pipeline.js';
import { DecodeEscalationStage, DiffusionStage } from '../escalation/stages.js';
import { buildEscalationOutputs } from '../escalation/outputs.js';
import { diffusionScorerFromConfig, runtimeFromConfig } from './runtime.js';
import { Lifecycle } from '../core/lifecycle.js';
import { drainThenClose, leaveKafkaOnClose } from './shutdown.js';
import { modelReloader, watchModels } from './models-watch.js';
import { policyReload } from './reload.js';
import { chooseStages, topicsFrom, type AppHooks, type GateApp } from './gate-app.js';

export interface EscalationApp extends Omit<GateApp, 'pressure'> { stage: DiffusionStage }

/**
 * The full-DifFIQA stage: its own consumer group on the escalation topic, the same delivery,
 * DLQ and shutdown rules as the gate (it reuses the gate's consume → publish → commit loop).
 */
export async function startEscalation(cfg: Config, client: KafkaClient, log: Logger, hooks?: StageWrapper | AppHooks): Promise<EscalationApp> {
  const h: AppHooks = typeof hooks === 'function' ? { wrap: hooks } : hooks ?? {};
  const topics = topicsFrom(cfg);
  const life = new Lifecycle();
  const rt = runtimeFromConfig(cfg);
  life.onClose('models', () => rt.close());
  try {
    const { entry, provider } = await rt.load(cfg.get('models.denoiser'));
    await rt.load(cfg.get('models.embedder'));
    log.info({ model: entry.id, executionProvider: provider }, 'escalation models loaded');
    const codec = createCodec(await createRegistry(cfg.get('registry.type'), cfg.get('registry.url')), topics);
    const reloadModels = modelReloader(rt, log);
    life.onClose('model watch', watchModels(cfg, rt, reloadModels));
    const { policy, reload } = policyReload(cfg, log, rt, reloadModels);
    const scorer = diffusionScorerFromConfig(cfg, rt, entry.id);
    const stage = new DiffusionStage(scorer, { id: entry.id, version: entry.version, provider }, { policy, maxAgeMs: cfg.get('escalation.maxAgeMs') });
    const pipeline = new Pipeline(await chooseStages([new DecodeEscalationStage(codec, cfg.get('kafka.maxMessageBytes')), stage], h), h.wrap);
    life.onClose('stages', () => pipeline.close());

    const admin = client.admin();
    await admin.createTopics([topics.escalation, topics.output, topics.dlq].map((topic) => ({ topic, partitions: 3 })));
    await admin.close();
    const exactlyOnce = cfg.get('delivery.mode') === 'exactly_once';
    const groupId = cfg.get('escalation.groupId');
    const consumer = client.consumer({ groupId, sessionTimeoutMs: cfg.get('kafka.sessionTimeoutMs') });
    const producer = client.producer(exactlyOnce ? { transactionalIdPrefix: `${groupId}-` } : {});
    leaveKafkaOnClose(life, consumer, producer);
    const gate = new Gate(consumer, producer, pipeline, (frames) => buildEscalationOutputs(frames, codec, { outputTopic: topics.output, dlqTopic: topics.dlq }), {
      groupId, inputTopic: topics.escalation, exactlyOnce,
      inFlightPerPartition: cfg.get('escalation.inFlightPerPartition'), partitionsConcurrently: cfg.get('escalation.partitionsConcurrently'),
    });
    life.onClose('gate logs', logGateTrouble(gate, log));
    await h.attach?.({ role: 'escalation', gate, runtime: rt, consumer });
    await gate.start();
    h.started?.();
    log.info({ input: topics.escalation, group: groupId }, 'escalation stage running');
    return { gate, runtime: rt, provider, stage, reload, shutdown: drainThenClose(gate, life) };
  } catch (err) {
    await life.close();
    throw err;
  }
}
