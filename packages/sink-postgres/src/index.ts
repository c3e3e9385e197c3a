export { postgresSink, type PostgresSink, type PostgresSinkOptions, type PostgresWriteContext } from './sink.js';
export { appendRows, insertChunkSize, type AppendOptions, type Row } from './append.js';
export {
  toDatabase,
  fromPool,
  fromPglite,
  isDatabase,
  preparing,
  type Database,
  type DatabaseInput,
  type DatabaseOptions,
  type PgliteLike,
  type QueryOptions,
  type SqlExecutor,
  type SqlResult,
  type SqlTransaction,
} from './db.js';
export { migrationSql, sinkTables, ensureTables, type SchemaOptions, type SinkTables } from './schema.js';
export { readCommittedOffsets, withCommittedOffsets, resetEpochs, type CommittedOffsets, type CommittedOffsetsOptions } from './offsets.js';
export { claimEpoch, checkEpoch, fencedError, type FenceKey } from './fence.js';
export { withRetry, type RetryOptions } from './retry.js';
export { isRetryable, isConstraintViolation, sinkError } from './errors.js';
export { quoteIdent, quoteTable, toPgText, encodeCopyRow, encodeCopyChunks, MAX_BIND_PARAMETERS } from './sql.js';
