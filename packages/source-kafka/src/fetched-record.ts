import type { KafkaHeaderValue, RawKafkaRecord } from './reader.js';

/**
 * A record as the kafkajs reader builds it: already in the shape of the `KafkaRecord` the source
 * returns (`kind: 'record'`), with the raw value (a slice of the fetch response, not a copy).
 * Deserializing replaces `value` in place, so a record in flight is one object, not three (raw
 * record, copy, result). Records of other readers are copied as before.
 */
export class FetchedRecord implements RawKafkaRecord {
  readonly kind = 'record' as const;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly timestamp: number,
    readonly key: Buffer | null,
    /** The raw value until the source deserializes it, then the deserialized value. */
    public value: Buffer | null,
    readonly headers: Readonly<Record<string, KafkaHeaderValue>>,
  ) {}
}
