import type { Logger } from '../api/logger.js';
import type { RejectedRecords, Source } from '../api/source.js';
import type { StreamGraph } from '../dstream/graph.js';

/** Opens every source, then every sink, each with a child logger that names it. */
export async function openEndpoints(
  graph: StreamGraph,
  context: {
    appId: string;
    epoch: number;
    logger: Logger;
    reportRejected: (event: RejectedRecords) => void;
    /** The task's partition filter of a source; undefined when the context reads every partition. */
    ownerOf: (source: Source<unknown>) => ((partition: string) => boolean) | undefined;
  },
): Promise<void> {
  const { appId, epoch, logger, reportRejected, ownerOf } = context;
  for (const [name, source] of graph.sources) {
    const ownsPartition = ownerOf(source);
    await source.open?.({ appId, logger: logger.child({ component: 'source', source: name }), reportRejected, ...(ownsPartition ? { ownsPartition } : {}) });
  }
  for (const output of graph.outputs) {
    await output.sink?.open?.({ appId, epoch, logger: logger.child({ component: 'sink', output: output.name }) });
  }
}

/** Closes every source and sink; a failing close is logged and the others still close. */
export async function closeEndpoints(graph: StreamGraph, logger: Logger): Promise<void> {
  const closers = [...[...graph.sources.values()].map((s) => () => s.close?.()), ...graph.outputs.map((o) => () => o.sink?.close?.())];
  for (const close of closers) {
    try {
      await close();
    } catch (error) {
      logger.error({ err: error }, 'closing a source or sink failed');
    }
  }
}
