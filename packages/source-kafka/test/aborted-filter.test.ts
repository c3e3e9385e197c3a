import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { markAbortedRecords, type AbortedTransaction, type FetchedMessage } from '../src/kafkajs/aborted-filter.js';

// The real-broker case is in transactions.test.ts; this checks the filter against a model of a
// partition's log, for any interleaving of transactions of a few producers and any fetch start.

type Op = { producer: number; action: 'send' | 'commit' | 'abort' };

interface Log {
  readonly messages: (FetchedMessage & { readonly aborted: boolean })[];
  /** Aborted transactions in the order of their markers, as the broker lists them. */
  readonly aborted: (AbortedTransaction & { readonly marker: number })[];
}

const COMMIT_KEY = Buffer.from([0, 0, 0, 1]);
const ABORT_KEY = Buffer.from([0, 0, 0, 0]);

/** Appends each op to one partition's log: records in open transactions, markers when they end. */
function buildLog(ops: readonly Op[]): Log {
  const messages: Log['messages'] = [];
  const aborted: Log['aborted'] = [];
  const open = new Map<number, { first: number; offsets: number[] }>();
  for (const { producer, action } of ops) {
    const producerId = String(1000 + producer);
    const offset = messages.length;
    const txn = open.get(producer);
    if (action === 'send') {
      if (txn) txn.offsets.push(offset);
      else open.set(producer, { first: offset, offsets: [offset] });
      messages.push({ offset: String(offset), key: Buffer.from(`r${offset}`), isControlRecord: false, batchContext: { producerId, inTransaction: true }, aborted: false });
      continue;
    }
    if (!txn) continue; // ending a transaction that is not open writes nothing
    open.delete(producer);
    const abort = action === 'abort';
    messages.push({ offset: String(offset), key: abort ? ABORT_KEY : COMMIT_KEY, isControlRecord: true, batchContext: { producerId, inTransaction: true }, aborted: false });
    if (abort) {
      for (const o of txn.offsets) messages[o] = { ...messages[o]!, aborted: true };
      aborted.push({ producerId, firstOffset: String(txn.first), marker: offset });
    }
  }
  // Transactions still open end the log: a read_committed fetch stops before the first of them.
  const lso = Math.min(messages.length, ...[...open.values()].map((t) => t.first));
  return { messages: messages.slice(0, lso), aborted: aborted.filter((t) => Number(t.firstOffset) < lso) };
}

const ops = fc.array(fc.record({ producer: fc.integer({ min: 0, max: 3 }), action: fc.constantFrom<Op['action']>('send', 'send', 'commit', 'abort') }), { maxLength: 60 });

describe('markAbortedRecords', () => {
  it('marks exactly the records of aborted transactions, for any interleaving and any fetch start', () => {
    fc.assert(
      fc.property(ops, fc.nat(), (history, startSeed) => {
        const log = buildLog(history);
        const start = log.messages.length === 0 ? 0 : startSeed % log.messages.length;
        // What the broker sends for a fetch from `start`: the records from there, and the aborted
        // transactions that end at or after it, in marker order.
        const fetched = log.messages.slice(start).map((m) => ({ ...m, batchContext: { ...m.batchContext } }));
        const listed = log.aborted.filter((t) => t.marker >= start).map(({ producerId, firstOffset }) => ({ producerId, firstOffset }));
        markAbortedRecords(fetched, listed);
        const returned = fetched.filter((m) => !m.isControlRecord).map((m) => m.offset);
        const committed = log.messages.slice(start).filter((m) => !m.isControlRecord && !m.aborted).map((m) => m.offset);
        expect(returned).toEqual(committed);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves the records alone when the fetch lists no aborted transaction', () => {
    const message: FetchedMessage = { offset: '0', key: null, isControlRecord: false, batchContext: { producerId: '1', inTransaction: true } };
    expect(markAbortedRecords([message], [])).toBe(0);
    expect(message.isControlRecord).toBe(false);
  });
});
