/**
 * Attribute names used on spans and metrics. Messaging names are copied from the semantic
 * conventions' incubating set (the project recommends copying them rather than importing
 * `incubating`, whose names may change between releases).
 */
export const MESSAGING_SYSTEM = 'messaging.system';
export const MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const MESSAGING_DESTINATION_PARTITION_ID = 'messaging.destination.partition.id';
export const MESSAGING_KAFKA_OFFSET = 'messaging.kafka.offset';
export const MESSAGING_KAFKA_MESSAGE_KEY = 'messaging.kafka.message.key';
export const MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
export const ERROR_TYPE = 'error.type';

export const CAMERA_ID = 'diffiqa.camera.id';
export const FRAME_ID = 'diffiqa.frame.id';
export const STAGE = 'diffiqa.stage';
export const ROLE = 'diffiqa.role';
export const SCORE = 'diffiqa.score';
export const SCORE_STD = 'diffiqa.score.std';
export const REGRESSION_SCORE = 'diffiqa.regression.score';
export const DECISION = 'diffiqa.decision';
export const ESCALATION = 'diffiqa.escalation';
export const MODEL_ID = 'diffiqa.model.id';
export const MODEL_VERSION = 'diffiqa.model.version';
export const EXECUTION_PROVIDER = 'diffiqa.execution_provider';
export const LANDMARK_SOURCE = 'diffiqa.landmark_source';
