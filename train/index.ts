// Platform-neutral entry of the training toolkit. Node-only pieces (file IO with atomic writes,
// the stdout progress sink) are in train/io-node.ts.

export { fit, deriveSeed, indexBatches, type FitOptions, type FitResult, type StepContext, type EpochContext, type EvalOutput, type StepInfo } from './trainer.js';
export * from './metrics.js';
export { s, validateConfig, parseConfig, configDefaults, describeSchema, schemaAt, ConfigError, type Schema, type Infer, type ConfigIssue } from './config.js';
export { parseArgs, parseFlags, mergeDeep, helpText } from './args.js';
export { Progress, formatProgress, formatDuration, consoleSink, memorySink, type ProgressSink, type ProgressInfo } from './progress.js';
export { toJsonl, parseJsonl, toCsv, parseCsv, columnsOf, type StatRecord, type StatValue } from './stats.js';
export { renderChart, trainingCurves, niceTicks, type Panel, type Series } from './curves.js';
export { captureModel, captureTraining, restoreModel, restoreTraining, writeCheckpoint, readCheckpoint, type CheckpointSidecar } from './checkpoint.js';
export { memoryIO, type TrainIO } from './io.js';
