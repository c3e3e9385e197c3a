/**
 * Every error microbatch throws on purpose is a MicrobatchError with a stable `code`,
 * so callers branch on `err.code`, never on message text.
 */
export type MicrobatchErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_URI'
  | 'INVALID_RECORD'
  | 'GRAPH_MISMATCH'
  | 'FENCED'
  | 'CHECKPOINT_CORRUPT'
  | 'CHECKPOINT_BEHIND_SINK'
  | 'CHECKPOINT_LAYOUT_MISMATCH'
  | 'CHECKPOINT_UNSUPPORTED_VERSION'
  | 'CHECKPOINT_STORE_UNAVAILABLE'
  | 'BLOB_NOT_FOUND'
  | 'STATE_ENCODE_FAILED'
  | 'SOURCE_FAILED'
  | 'OFFSET_OUT_OF_RANGE'
  | 'DESERIALIZATION_FAILED'
  | 'SINK_FAILED'
  | 'BATCH_FAILED'
  | 'NOT_STARTED'
  | 'ALREADY_STARTED'
  | 'STOPPED';

export interface MicrobatchErrorOptions {
  cause?: unknown;
  /** Structured facts about the failure (stream names, offsets, batch time...). */
  details?: Record<string, unknown>;
}

export class MicrobatchError extends Error {
  override readonly name: string = 'MicrobatchError';
  readonly code: MicrobatchErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: MicrobatchErrorCode, message: string, options: MicrobatchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** A write carried an epoch older than the newest one taken: this process is a zombie. */
export class FencedError extends MicrobatchError {
  override readonly name = 'FencedError';
  constructor(message: string, options: MicrobatchErrorOptions & { epoch: number; currentEpoch: number }) {
    super('FENCED', message, {
      cause: options.cause,
      details: { ...options.details, epoch: options.epoch, currentEpoch: options.currentEpoch },
    });
  }
}

export function isMicrobatchError(value: unknown, code?: MicrobatchErrorCode): value is MicrobatchError {
  return value instanceof MicrobatchError && (code === undefined || value.code === code);
}

export function invalidOption(option: string, message: string, value?: unknown): MicrobatchError {
  return new MicrobatchError('INVALID_OPTION', `Invalid option "${option}": ${message}`, {
    details: { option, value },
  });
}
