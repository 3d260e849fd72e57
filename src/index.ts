/**
 * diffiqa-gate as a library: the face-image-quality scorer, the gate and escalation apps with
 * their configuration, the Stage / Frame contracts, the error catalogue, and the Kafka port with
 * its in-memory fake. Nothing else is public; deep imports into dist/ are not supported.
 *
 * @packageDocumentation
 */

// Scoring images or frames in your own code.
export { createQualityScorer } from './plugin/app/quality.js';
export type { ImageInput, QualityResult, QualityScorer, QualityScorerOptions, ScoringMode } from './plugin/app/quality.js';

// The services: the gate (inline DifFIQA(R)) and the full-DifFIQA escalation stage.
export { startGate, topicsFrom } from './plugin/app/gate-app.js';
export type { AppHooks, AppParts, GateApp } from './plugin/app/gate-app.js';
export { startEscalation } from './plugin/app/escalation-app.js';
export type { EscalationApp } from './plugin/app/escalation-app.js';

// Configuration: defaults ← file ← env (DIFFIQA_GATE__SECTION__KEY) ← overrides.
export { buildConfig, Config, envName, loadConfigFile } from './plugin/config/load.js';
export type { ConfigKey } from './plugin/config/schema.js';
export { CameraPolicy, parseCameras, PolicySwitch } from './plugin/config/cameras.js';
export type { CameraMode, CameraRule } from './plugin/config/cameras.js';
export type { PolicyReload } from './plugin/app/reload.js';
export { createLogger } from './plugin/core/log.js';
export type { Logger } from './plugin/core/log.js';

// The central contracts.
export type { Stage } from './plugin/core/stage.js';
export type { AlignedFace, Frame, FrameSource, Landmarks5, Rect, RgbImage, ScoreResult } from './plugin/core/frame.js';
export { Pipeline } from './plugin/pipeline/pipeline.js';
export type { StageWrapper } from './plugin/pipeline/pipeline.js';

// One catalogue of error codes; branch on `code` and `canRetry`, never on messages.
export { errorCodes, GateError, isInputError, toGateError } from './plugin/core/errors.js';
export type { ErrorCode } from './plugin/core/errors.js';

// Events (node:diagnostics_channel, names `diffiqa:*`): subscribe for your own metrics or logs.
export { CHANNEL_NAMESPACE, subscribeTo } from './plugin/core/diagnostic.js';
export type { EventChannel } from './plugin/core/diagnostic.js';
export { inferenceChannels } from './plugin/inference/pool.js';
export type { ModelEntry, ModelRole, Normalisation } from './plugin/assets/manifest.js';
export type { InferenceRunEvent, ModelSwappedEvent, WorkerDiedEvent, WorkerRestartedEvent } from './plugin/inference/pool.js';
export { gateChannels } from './plugin/gate/gate.js';
export { canaryChannels, CanaryStage } from './plugin/pipeline/stages/canary.js';
export type { CanaryScoredEvent, CanarySplit } from './plugin/pipeline/stages/canary.js';
export type { CanaryComparison, CanaryPair, CanarySummary } from './plugin/drift/canary.js';
export type { GateChunkEvent, GateCommitEvent, GateCompactedEvent, GateDisownedEvent, GateRetryEvent } from './plugin/gate/gate.js';

// Kafka behind a port: the kafkajs adapter, and the in-memory client as the official fake.
export type {
  AdminPort, ConsumerOptions, ConsumerPort, KafkaClient, KafkaRecord, OutRecord, PartitionBatch, ProducerPort,
  RebalanceEvent, TopicPartition, TransactionOffsets,
} from './plugin/kafka/port.js';
export { createKafkajsClient } from './plugin/kafka/kafkajs.js';
export type { KafkajsClientOptions, KafkaLogger, KafkaLogLevelName } from './plugin/kafka/kafkajs.js';
export { createMemoryClient } from './plugin/kafka/memory.js';
export type { FaultOp, MemoryClientOptions, MemoryKafkaClient } from './plugin/kafka/memory.js';

// The Avro records on the topics and their Confluent-framed codec.
export { createCodec, createRegistry, embeddedRegistry } from './plugin/pipeline/codecs.js';
export type { Topics } from './plugin/pipeline/codecs.js';
export type { AvroCodec } from './schemas/codec.js';
export type { MemoryRegistry, SchemaRegistry } from './schemas/registry.js';
export { deadLetterType, escalationRequestType, faceCropType, faceQualityType } from './schemas/index.js';
export type {
  BBox, CanaryScore, DeadLetter, Decision, Escalation, EscalationRequest, FaceCrop, FaceQuality, ImageFormat, KafkaSource, Point, Thresholds,
} from './schemas/index.js';
