export * from './memory-sink.js';
export * from './checkpoint-store-suite.js';
export * from './sink-suite.js';
