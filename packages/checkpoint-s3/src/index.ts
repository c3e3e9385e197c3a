export { createS3CheckpointBackend, createS3CheckpointStore, type ChecksumSetting, type S3CheckpointStoreOptions } from './s3-store.js';
