import { StreamingGroup, createMemoryCheckpointStore, silentLogger, type AppDescription, type AssignmentHandlers, type Clock } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';

/**
 * A group member over a 3-partition generator (so tasks 0, 1, 2), its assignments given by the
 * test as the consumer group's rebalances would: `assign([...])` delivers a new assignment.
 * Each task reads at most 10 records per batch of `ratePerPartition` new ones per second, so lag
 * builds up when the rate is high. `description` is the program's, from the context `build` made.
 */
export function createGroupMember(options: { initial: number[]; clock?: Clock; ratePerPartition?: number; stopWhenIdle?: boolean; batchIntervalMs?: number }) {
  let handlers: AssignmentHandlers | undefined;
  let description: AppDescription | undefined;
  const group = new StreamingGroup({
    appId: `ui-group-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    coordinator: { kind: 'by-hand', start: async (h) => ((handlers = h), h.assigned(options.initial)), stop: async () => {} },
    logger: silentLogger,
    stopOnSignals: false,
    context: {
      batchIntervalMs: options.batchIntervalMs ?? 200,
      checkpoint: createMemoryCheckpointStore(),
      stopWhenIdle: options.stopWhenIdle ?? false,
      ...(options.clock ? { clock: options.clock } : {}),
    },
    build: (ssc) => {
      ssc
        .source(
          createGeneratorSource({
            name: 'clicks',
            partitions: 3,
            recordsPerPartition: options.ratePerPartition ? Number.MAX_SAFE_INTEGER : 30,
            ...(options.ratePerPartition ? { ratePerPartition: options.ratePerPartition } : {}),
            maxRecordsPerPartition: 10,
            generate: ({ partition, offset }) => ({ partition, offset }),
          }),
        )
        .foreachBatch(async (batch) => void (await batch.count()), { name: 'audit' });
      description ??= ssc.description;
    },
  });
  return {
    group,
    /** Known once the group checked its program, i.e. after `start()` began: read it lazily. */
    description: () => description!,
    assign(tasks: number[]) {
      handlers!.assigned(tasks);
    },
  };
}
