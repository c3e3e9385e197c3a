export { createKafkaSource, type KafkaSource, type KafkaSourceElement, type KafkaSourceMetrics } from './source.js';
export { readTopic, type ReadTopicOptions } from './read-topic.js';
export type { KafkaSourceOptions, ReaderScope, ResolvedOptions, StartingOffset, DeserializationErrorPolicy } from './options.js';
export {
  isDeadLetter,
  isKafkaRecord,
  json,
  type KafkaRecord,
  type KafkaDeadLetter,
  type Deserializer,
  type DeserializerFunction,
  type ValueOf,
} from './deserialize.js';
export { partitionId, parsePartitionId, type TopicPartition } from './partition-id.js';
export {
  OffsetOutOfRangeError,
  type KafkaReader,
  type KafkaHeaderValue,
  type PartitionWatermarks,
  type RawKafkaRecord,
  type ReadRequest,
} from './reader.js';
export { createKafkaGroupCoordinator } from './group/coordinator.js';
export type { KafkaGroupCoordinatorOptions } from './group/options.js';
/** For other kafkajs clients of an application (a sink, a tool): the package's corrections to kafkajs 2.2.4 (read_committed filtering, TimeoutNegativeWarning); see kafkajs/fixes.ts. */
export { fixKafkajs } from './kafkajs/fixes.js';
/** Only the TimeoutNegativeWarning part of `fixKafkajs`; see timer-fix.ts. */
export { fixKafkajsNegativeTimeout } from './kafkajs/timer-fix.js';
