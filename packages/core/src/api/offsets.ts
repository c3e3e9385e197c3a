/** A half-open range [from, until) of one partition of one named source. */
export interface OffsetRange {
  /** The source's stable name, as given to the context. */
  readonly source: string;
  /** The source's own partition id, e.g. "events:3" for a Kafka topic partition. */
  readonly partition: string;
  readonly from: number;
  readonly until: number;
}

/** Next offset to read, per partition id. */
export type PartitionOffsets = Record<string, number>;

export function rangeSize(range: OffsetRange): number {
  return range.until - range.from;
}
