export { createFsCheckpointBackend, createFsCheckpointStore, type FsCheckpointStoreOptions } from './fs-store.js';
