import type { Logger } from '../api/logger.js';
import type { OutputContext } from '../api/sink.js';
import type { BatchRecord } from '../checkpoint/format.js';
import type { BatchGeneration } from '../dstream/generation.js';
import type { StreamGraph } from '../dstream/graph.js';
import { MicrobatchError, isMicrobatchError } from '../errors.js';
import type { Clock } from './clock.js';
import type { BatchHistory } from './history.js';
import type { BatchInfo, ListenerBus } from './listener.js';
import type { ProtocolPoint } from './options.js';
import { withRetries, type RetryPolicy } from './retry.js';
import { checkBatchTwice } from './verify-hooks.js';

export interface BatchRunnerEnv {
  readonly appId: string;
  readonly epoch: number;
  readonly graph: StreamGraph;
  readonly concurrency: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly bus: ListenerBus;
  readonly retry: RetryPolicy;
  readonly signal: AbortSignal;
  readonly history: BatchHistory;
  readonly atProtocolPoint: (point: ProtocolPoint, batchTime: number, attempt: number) => Promise<void>;
  /** Called once the batch's input is read for its state, as its outputs start (starts the read-ahead). */
  readonly beforeOutputs?: () => void;
}

export function inputRecords(record: BatchRecord): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const range of record.ranges) counts[range.source] = (counts[range.source] ?? 0) + (range.until - range.from);
  return counts;
}

/**
 * Runs every output operation of one batch, in registration order, from its logged plan.
 * A failed attempt is retried with backoff from scratch; after the last attempt the error
 * (BATCH_FAILED, or FENCED at once) goes to the caller, which stops the context.
 */
export async function runBatch(
  env: BatchRunnerEnv,
  record: BatchRecord,
  replay: boolean,
  lag?: BatchInfo['lag'],
): Promise<{ info: BatchInfo; generation: BatchGeneration }> {
  const inputs = inputRecords(record);
  const base = {
    ...(lag ? { lag } : {}),
    batchTime: record.time,
    inputRecords: inputs,
    numRecords: Object.values(inputs).reduce((a, b) => a + b, 0),
    offsetRanges: record.ranges,
    replay,
    submissionTime: env.clock.now(),
  };
  env.bus.emit('onBatchSubmitted', { ...base, attempt: 1 });
  let lastInfo: BatchInfo = { ...base, attempt: 1 };
  try {
    return await withRetries(
      env.retry,
      async (attempt) => {
        const start = env.clock.now();
        lastInfo = { ...base, attempt, processingStartTime: start, schedulingDelay: start - record.time };
        env.bus.emit('onBatchStarted', lastInfo);
        const generation = env.history.generation(record.time, record.ranges, attempt);
        // State changes are computed first, staged, and applied by the caller only after success.
        for (const operator of env.graph.stateful) await operator.prepare(generation);
        await checkBatchTwice(env, generation); // MICROBATCH_VERIFY_DETERMINISM only
        await env.atProtocolPoint('output:before', record.time, attempt);
        env.beforeOutputs?.();
        await runOutputs(env, generation);
        await env.atProtocolPoint('output:after', record.time, attempt);
        const end = env.clock.now();
        const info: BatchInfo = { ...lastInfo, processingEndTime: end, processingDelay: end - start, totalDelay: end - record.time };
        env.bus.emit('onBatchCompleted', info);
        return { info, generation };
      },
      (error, failure) => {
        env.logger.warn({ err: error, batchTime: record.time, ...failure }, failure.willRetry ? 'batch attempt failed; retrying' : 'batch attempt failed; giving up');
        env.bus.emit('onBatchFailed', { info: lastInfo, error, willRetry: failure.willRetry });
      },
    );
  } catch (error) {
    if (isMicrobatchError(error, 'FENCED') || isMicrobatchError(error, 'STOPPED')) throw error;
    // A deterministic error stops at once; BATCH_FAILED still wraps it so the batch time is named.
    throw new MicrobatchError('BATCH_FAILED', `Batch ${record.time} failed after ${lastInfo.attempt} attempt(s); the context stops and the batch stays pending`, {
      cause: error,
      details: { batchTime: record.time, attempts: lastInfo.attempt },
    });
  }
}

async function runOutputs(env: BatchRunnerEnv, generation: BatchGeneration): Promise<void> {
  const { time, ranges, attempt } = generation;
  const record = { time, ranges };
  for (const operation of env.graph.outputs) {
    if (env.signal.aborted) throw new MicrobatchError('STOPPED', 'The context stopped while the batch was running');
    const context: OutputContext = {
      appId: env.appId,
      epoch: env.epoch,
      batchTime: record.time,
      attempt,
      outputName: operation.name,
      offsetRanges: record.ranges,
      signal: env.signal,
      logger: env.logger.child({ component: 'output', output: operation.name }),
    };
    const startTime = env.clock.now();
    const info = { batchTime: record.time, id: operation.id, name: operation.name, attempt, startTime };
    const batch = operation.stream.batchFor(generation);
    if (!batch) continue; // e.g. a window between its slide times: no batch, no output, no events
    env.bus.emit('onOutputOperationStarted', info);
    try {
      await operation.run(batch.bind(context), context);
    } catch (error) {
      const endTime = env.clock.now();
      env.bus.emit('onOutputOperationCompleted', { ...info, endTime, durationMs: endTime - startTime, error });
      if (isMicrobatchError(error)) throw error;
      throw new MicrobatchError('SINK_FAILED', `Output "${operation.name}" failed for batch ${record.time} (attempt ${attempt})`, {
        cause: error,
        details: { output: operation.name, batchTime: record.time, attempt },
      });
    }
    const endTime = env.clock.now();
    env.bus.emit('onOutputOperationCompleted', { ...info, endTime, durationMs: endTime - startTime });
  }
}
