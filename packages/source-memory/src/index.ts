export type { MemoryRecord } from './record.js';
export { MemoryLog, createMemoryLogSource, type MemoryLogSourceOptions } from './memory-log.js';
export { createQueueSource, type QueueSource } from './queue.js';
export { createGeneratorSource, type GeneratorSourceOptions } from './generator.js';
