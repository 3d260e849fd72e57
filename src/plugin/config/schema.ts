/**
 * Every configuration key, its type, default and bounds, in one table. The loader validates
 * against it and names the offending key; env variables override any key (see load.ts).
 */
export type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'string[]' | 'enum';

export interface KeySpec {
  kind: Kind;
  default: unknown;
  /** Lowest value of a number; fewest entries of a list. */
  min?: number;
  max?: number;
  values?: readonly string[];
  doc: string;
}

export const schema = {
  'kafka.brokers': { kind: 'string[]', default: ['127.0.0.1:9092'], min: 1, doc: 'bootstrap servers' },
  'kafka.clientId': { kind: 'string', default: 'diffiqa-gate', doc: 'Kafka client id' },
  'kafka.client': { kind: 'enum', values: ['kafkajs', 'platformatic'], default: 'kafkajs', doc: 'Kafka client library behind the adapter port: kafkajs, or @platformatic/kafka (exactly_once included; src/plugin/kafka/platformatic.ts says where the two differ)' },
  'kafka.groupId': { kind: 'string', default: 'diffiqa-gate', doc: 'consumer group of the gate' },
  'kafka.inputTopic': { kind: 'string', default: 'face-crops', doc: 'FaceCrop input topic' },
  'kafka.outputTopic': { kind: 'string', default: 'face-quality', doc: 'FaceQuality output topic' },
  'kafka.escalationTopic': { kind: 'string', default: 'face-quality-escalation', doc: 'borderline frames for full DifFIQA' },
  'kafka.dlqTopic': { kind: 'string', default: 'face-quality-dlq', doc: 'DeadLetter topic' },
  'kafka.alertsTopic': { kind: 'string', default: 'face-quality-alerts', doc: 'per-camera drift alerts (JSON, see src/plugin/drift/alerts.ts)' },
  'kafka.maxMessageBytes': { kind: 'integer', default: 8_000_000, min: 1024, doc: 'larger input messages go to the DLQ (INPUT_TOO_LARGE)' },
  'kafka.sessionTimeoutMs': { kind: 'integer', default: 30_000, min: 6000, doc: 'consumer session timeout' },
  'registry.type': { kind: 'enum', values: ['embedded', 'http'], default: 'embedded', doc: 'embedded: fixed ids of the bundled schemas; http: a Confluent-compatible registry' },
  'registry.url': { kind: 'string', default: '', doc: 'schema registry URL when registry.type is http' },
  // eDifFIQA-T on the project's MobileFaceNet: ahead of sharpness and face size on every set under both
  // FR models, and of diffiqa-r-own at pAUC@0.2 (docs/evaluation.md); diffiqa-r-own stays selectable.
  'models.regressor': { kind: 'string', default: 'ediffiqa-t-own', doc: 'manifest id of the inline regressor' },
  'models.embedder': { kind: 'string', default: 'mobilefacenet-dyn', doc: 'manifest id of the FR embedder' },
  'models.detector': { kind: 'string', default: 'retinaface-mnet025', doc: 'manifest id of the face detector' },
  'models.denoiser': { kind: 'string', default: 'diffiqa-unet-own', doc: 'manifest id of the diffusion denoiser' },
  'models.mirror': { kind: 'string', default: '', doc: 'asset mirror directory (env DIFFIQA_ASSET_MIRROR)' },
  'models.manifests': { kind: 'string[]', default: [], doc: 'extra manifest files (e.g. exported official models)' },
  'models.watchMs': { kind: 'integer', default: 2000, min: 0, doc: "how often run and escalate look for a changed manifest (models/manifest.json and models.manifests) or model file and swap changed models in between batches, sha256-checked; a file that fails its check leaves the running model (logged, diffiqa_reloads_total{what=\"model\",result=\"failed\"}) (0: only on SIGHUP)" },
  'reload.watchMs': { kind: 'integer', default: 2000, min: 0, doc: "how often run and escalate look for a changed config file and apply its cameras section and canary split between batches, as on SIGHUP; a file that does not load leaves the running policy (logged, diffiqa_reloads_total{what=\"config\",result=\"failed\"}) (0: only on SIGHUP)" },
  'reload.debounceMs': { kind: 'integer', default: 500, min: 0, doc: 'quiet time after the last change to the config file, a manifest or a model file before it is reloaded: one reload for an editor\'s several writes, or for a model file and its manifest entry written moments apart' },
  'canary.model': { kind: 'string', default: '', doc: "manifest id of a candidate regressor that also scores the canary split, its score beside the regressor's on the event (FaceQuality.canary); it decides nothing. Promote: make it models.regressor; roll back: '' (both take a restart), or canary.fraction 0 and no canary.cameras on SIGHUP ('': off)" },
  'canary.fraction': { kind: 'number', default: 0, min: 0, max: 1, doc: 'share of frames in the canary split (chosen by frame id: a redelivered frame stays in or out); reloaded on SIGHUP or a change of the config file' },
  'canary.cameras': { kind: 'string[]', default: [], doc: 'camera ids or globs whose every frame is in the canary split; reloaded on SIGHUP or a change of the config file' },
  // 2 × 1 beat 1 × 2 on two cores with the own regressor: +13–15 % frames/s, −3–7 % CPU per frame
  // (BENCHMARKS.md, 2026-12-05): two batches side by side, no hand-offs between ORT's threads. For an
  // iResNet-100-size regressor, two bare sessions at once cost −3 to +9 % CPU per image against one
  // (runs J–N, 2026-12-06), so its shape is a latency choice: 1 × cores puts every core on a batch.
  'inference.workers': { kind: 'integer', default: 2, min: 1, max: 64, doc: 'inference worker threads; each holds its own session of every model and runs one batch at a time' },
  'inference.intraOpThreads': { kind: 'integer', default: 1, min: 1, max: 64, doc: 'onnxruntime threads per worker; workers × intraOpThreads ≈ cores. Small regressors in the gate: 1 thread, one worker per core; iResNet-100-size ones: about the same CPU per image either way, 1 worker × cores threads for lower latency a batch; one-image-at-a-time work (score, eval): 1 worker × cores threads' },
  'inference.executionProviders': { kind: 'string[]', default: ['cpu'], doc: 'tried in order, cpu always last (cuda, tensorrt, cpu)' },
  'inference.maxBatch': { kind: 'integer', default: 16, min: 1, max: 1024, doc: 'micro-batch size' },
  'inference.maxDelayMs': { kind: 'number', default: 0, min: 0, max: 10_000, doc: 'longest wait for a batch to fill, from its oldest frame\'s arrival. 0: a free worker takes what is queued at once, and batches fill while the workers are busy (on CPU, lower latency at the same saturation throughput, see BENCHMARKS.md); a few ms on GPUs, where a fuller batch costs little more than a small one' },
  'inference.maxQueue': { kind: 'integer', default: 128, min: 1, doc: 'queued items before partitions are paused' },
  // Defaults from `calibrate --data ../shared/data/celeba-wild --scorer ediffiqa-t-own --target-discard 0.1
  // --escalation-budget 0.1` (docs/evaluation.md): ~10 % rejected, ~10 % escalated. Recalibrate per site
  // and per model (diffiqa-r-own's were 0.819 / 0.788).
  'gate.accept': { kind: 'number', default: 0.723, doc: 'regressor score >= accept: ACCEPT (default calibrated for ediffiqa-t-own)' },
  'gate.reject': { kind: 'number', default: 0.656, doc: 'regressor score < reject: REJECT; between: BORDERLINE (escalated)' },
  'gate.inFlightPerPartition': { kind: 'integer', default: 32, min: 1, max: 10_000, doc: 'messages of one partition in the pipeline at once' },
  'gate.retryBudgetMs': { kind: 'integer', default: 120_000, min: 1000, doc: 'how long one publish or commit may keep failing with retriable errors (broker away) before the gate stops with exit 4 instead of retrying for good' },
  'gate.partitionsConcurrently': { kind: 'integer', default: 8, min: 1, max: 1024, doc: 'partitions processed at once (their frames share batches)' },
  'gate.provisionalEvents': { kind: 'boolean', default: false, doc: 'publish a non-final event for borderline frames before escalation' },
  'gate.escalate': { kind: 'boolean', default: true, doc: 'false: borderline frames get a final event from the regression score' },
  'face.maxBytes': { kind: 'integer', default: 4_000_000, min: 64, doc: 'image byte limit' },
  'face.maxPixels': { kind: 'integer', default: 16_000_000, min: 1, doc: 'decoded pixel limit, checked from the header' },
  'face.minSide': { kind: 'integer', default: 16, min: 1, doc: 'smaller images are rejected' },
  'face.detectorScore': { kind: 'number', default: 0.5, min: 0, max: 1, doc: 'face detector confidence threshold' },
  'face.detectionsInFlight': { kind: 'integer', default: 4, min: 1, max: 1024, doc: 'crops without landmarks in detection at once (each holds a 4.9 MB detector input); bounds memory' },
  'delivery.mode': { kind: 'enum', values: ['at_least_once', 'exactly_once'], default: 'at_least_once', doc: 'delivery guarantee' },
  'shutdown.deadlineMs': { kind: 'integer', default: 20_000, min: 100, doc: 'drain deadline on SIGTERM' },
  'escalation.groupId': { kind: 'string', default: 'diffiqa-escalation', doc: 'consumer group of the escalation stage' },
  // Full DifFIQA scores q on its own scale: the median q (3 repeats) of the 298 celeba-wild faces in the
  // gate's default band, so escalation accepts about as many borderline frames as the band's midpoint
  // would, but chooses which by full DifFIQA. accept = reject: the final call is never borderline.
  'escalation.accept': { kind: 'number', default: 0.921, doc: 'full-DifFIQA score q >= accept: ACCEPT' },
  'escalation.reject': { kind: 'number', default: 0.921, doc: 'full-DifFIQA score q < reject: REJECT (between: BORDERLINE)' },
  'escalation.repeats': { kind: 'integer', default: 10, min: 1, max: 100, doc: 'perturbation repeats (paper: 10)' },
  // Full DifFIQA is ~100× the regressor's cost: small chunks keep commits and heartbeats frequent.
  'escalation.inFlightPerPartition': { kind: 'integer', default: 4, min: 1, max: 10_000, doc: 'escalation requests of one partition in the stage at once' },
  'escalation.partitionsConcurrently': { kind: 'integer', default: 3, min: 1, max: 1024, doc: 'escalation partitions processed at once (their frames share diffusion batches)' },
  // 160 = 8 images of 2 × R = 20 samples at R = 10: on a GPU a fuller call costs little more than a small one.
  'escalation.samplesPerCall': { kind: 'integer', default: 160, min: 1, max: 16_384, doc: 'full DifFIQA: perturbed samples (images × 2 × repeats) per UNet and FR-model call; the images of a batch share calls' },
  'escalation.maxAgeMs': { kind: 'integer', default: 60_000, min: 0, doc: 'older requests get the regression decision, flagged skipped_overload (0: never)' },
  'serve.port': { kind: 'integer', default: 8080, min: 0, max: 65535, doc: '`serve`: HTTP port of POST /score (0: any free port)' },
  'serve.host': { kind: 'string', default: '0.0.0.0', doc: '`serve`: address to listen on' },
  'serve.mode': { kind: 'enum', values: ['inline', 'full', 'cascade'], default: 'inline', doc: '`serve`: inline (the regressor), full (full DifFIQA) or cascade (full DifFIQA for the borderline only)' },
  'telemetry.metricsPort': { kind: 'integer', default: 0, min: 0, max: 65535, doc: 'Prometheus /metrics, /healthz, /readyz port (0: off)' },
  'telemetry.lagIntervalMs': { kind: 'integer', default: 10_000, min: 100, doc: 'how often consumer lag is polled from the broker' },
  'telemetry.cameraSeries': { kind: 'integer', default: 100, min: 0, doc: 'cameras with their own camera_id metric series: the busiest by recent traffic (re-ranked every 1,000 frames or more; at most twice this many cameras ever get a series, and past that a newly busy camera stays under "other" until a restart); the others count as camera_id="other", so a scrape stays bounded' },
  'drift.enabled': { kind: 'boolean', default: true, doc: 'per-camera score drift alerts (gate only)' },
  'drift.baselineSize': { kind: 'integer', default: 500, min: 1, doc: "a camera's first N scores form its baseline" },
  'drift.windowSize': { kind: 'integer', default: 200, min: 1, doc: 'sliding window of recent scores compared with the baseline' },
  'drift.medianShift': { kind: 'number', default: 0.1, min: 0, doc: 'alert when the recent median moves further than this from the baseline median' },
  'drift.acceptRateShift': { kind: 'number', default: 0.2, min: 0, max: 1, doc: 'alert when the recent accept rate moves further than this from the baseline' },
  'drift.rearmFraction': { kind: 'number', default: 0.5, min: 0, max: 1, doc: 'a drifting camera re-arms once both shifts are within this fraction of their bounds' },
  'drift.maxCameras': { kind: 'integer', default: 10_000, min: 1, doc: 'cameras tracked at once (least recently seen forgotten)' },
  'log.level': { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], default: 'info', doc: 'log level' },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof schema;
