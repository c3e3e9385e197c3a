export { createKafkaSink, kafkaSink, type KafkaSink } from './sink.js';
export type { KafkaSinkOptions, Bytes } from './options.js';
export {
  parseProgress,
  progressPartition,
  PROGRESS_FORMAT_VERSION,
  type ProgressRecord,
} from './progress.js';
export { isProducerFenced } from './errors.js';
