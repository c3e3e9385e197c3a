export * from './memory-sink.js';
export * from './checkpoint-store-suite.js';
export * from './crash.js';
export * from './sink-suite.js';
export * from './source-suite.js';
export * from './checkpoint-store-bench.js';
export * from './child-process.js';
