import { invalidOption, MicrobatchError, type OffsetRange } from '@microbatch/core';

export function assertName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') throw invalidOption('name', 'a source needs a non-empty stable name', name);
}

export function positiveInteger(option: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidOption(option, `must be an integer >= ${min}, got ${String(value)}`, value);
  }
  return value;
}

/** A range outside what a partition holds is an error, never a shorter read. */
export function assertReadable(source: string, range: OffsetRange, earliest: number, end: number): void {
  if (range.from < earliest || range.until > end || range.from > range.until) {
    throw new MicrobatchError(
      'OFFSET_OUT_OF_RANGE',
      `Source "${source}" partition ${range.partition} holds [${earliest}, ${end}); cannot read [${range.from}, ${range.until})`,
      { details: { source, range, earliest, end } },
    );
  }
}

export function partitionIndex(source: string, partition: string, count: number): number {
  const index = Number(partition);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count || String(index) !== partition) {
    throw new MicrobatchError('OFFSET_OUT_OF_RANGE', `Source "${source}" has no partition "${partition}"`, {
      details: { source, partition },
    });
  }
  return index;
}

/** The optional per-partition cap as a Source field: present only when set, validated. */
export function capField(cap: number | undefined): { maxRecordsPerPartition?: number } {
  return cap === undefined ? {} : { maxRecordsPerPartition: positiveInteger('maxRecordsPerPartition', cap) };
}
