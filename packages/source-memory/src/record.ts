/** A record read from an in-memory source, with where it came from. */
export interface MemoryRecord<T> {
  readonly partition: string;
  readonly offset: number;
  readonly value: T;
}
