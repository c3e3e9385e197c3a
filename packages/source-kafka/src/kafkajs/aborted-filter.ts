import Broker from 'kafkajs/src/broker/index.js';

/** The fields of a decoded kafkajs record (protocol/recordBatch/record/v0/decoder.js) this filter reads. */
export interface FetchedMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  isControlRecord: boolean;
  readonly batchContext: { readonly producerId: string; readonly inTransaction: boolean };
}

/** One entry of a Fetch response's aborted transactions: a producer and the first offset of its aborted transaction. */
export interface AbortedTransaction {
  readonly producerId: string;
  readonly firstOffset: string;
}

// A control record's key is a version (int16, 0) and a type (int16): 0 aborts, 1 commits.
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

/**
 * Marks the records of aborted transactions among one partition's fetched records, the way
 * Kafka's Java consumer decides it (Fetcher's consumeAbortedTransactionsUpTo and isBatchAborted):
 * every aborted transaction whose first offset is at or before a record is active for its
 * producer from then on, until that producer's abort marker; a transactional record of an active
 * producer is aborted. The broker lists aborted transactions in the order of their markers, not
 * of their first offsets, so the list is sorted first.
 *
 * A marked record is flagged as a control record: kafkajs leaves control records out of
 * `batch.messages` but counts them in its offsets (`lastOffset()`, the next fetch), exactly what
 * it does with the aborted records it filters itself. Returns how many records it marked.
 */
export function markAbortedRecords(messages: readonly FetchedMessage[], abortedTransactions: readonly AbortedTransaction[]): number {
  if (abortedTransactions.length === 0) return 0;
  const pending = abortedTransactions.map((t) => ({ producerId: t.producerId, firstOffset: Number(t.firstOffset) })).sort((a, b) => a.firstOffset - b.firstOffset);
  const active = new Set<string>();
  let next = 0;
  let marked = 0;
  for (const message of messages) {
    const offset = Number(message.offset);
    while (next < pending.length && pending[next]!.firstOffset <= offset) active.add(pending[next++]!.producerId);
    const { producerId, inTransaction } = message.batchContext;
    if (message.isControlRecord) {
      if (message.key !== null && ABORT_MARKER_KEY.equals(message.key)) active.delete(producerId);
    } else if (inTransaction && active.has(producerId)) {
      message.isControlRecord = true;
      marked++;
    }
  }
  return marked;
}

interface FetchResponse {
  responses?: Array<{ partitions?: Array<{ abortedTransactions?: AbortedTransaction[]; messages?: FetchedMessage[] }> }>;
}

let applied = false;

/**
 * kafkajs 2.2.4 filters aborted records (consumer/filterAbortedMessages.js) assuming the broker
 * lists aborted transactions by first offset, and takes at most one from the list per record. The
 * broker lists them by marker, so with transactions of several producers interleaved in a
 * partition a read_committed consumer is handed records of aborted transactions (seen here: two
 * transactional producers, the later-started one aborting first). Every read_committed read of
 * this package (a source's ranges, the Kafka sink's progress topic) goes through a kafkajs
 * consumer, so this replaces that filter for the whole process: each Fetch response's records are
 * marked here (markAbortedRecords) and its aborted-transaction list emptied, which makes kafkajs'
 * own filter return the records unchanged. Done once; read_uncommitted fetches carry no list and
 * are left alone.
 */
export function fixKafkajsReadCommitted(): void {
  if (applied) return;
  applied = true;
  const proto = Broker.prototype;
  const fetch = proto.fetch;
  proto.fetch = async function fetchMarkingAborted(this: unknown, ...args: unknown[]): Promise<unknown> {
    const response = (await fetch.apply(this, args)) as FetchResponse;
    for (const topic of response.responses ?? []) {
      for (const partition of topic.partitions ?? []) {
        const aborted = partition.abortedTransactions;
        if (!aborted || aborted.length === 0) continue;
        markAbortedRecords(partition.messages ?? [], aborted);
        partition.abortedTransactions = [];
      }
    }
    return response;
  };
}
