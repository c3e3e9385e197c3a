export * from './memory-sink.js';
