import type { KafkaMessage } from 'kafkajs';
import { FetchedRecord } from '../fetched-record.js';
import type { KafkaHeaderValue, RawKafkaRecord } from '../reader.js';

// Shared by every record without headers (most of them): one object less per record in flight.
const NO_HEADERS: Readonly<Record<string, KafkaHeaderValue>> = Object.freeze({});

// The kafkajs message object is dropped here: only its key and value slices are kept.
export function rawRecord(topic: string, partition: number, offset: number, message: KafkaMessage): RawKafkaRecord {
  const headers = message.headers;
  return new FetchedRecord(
    topic,
    partition,
    offset,
    Number(message.timestamp),
    message.key ?? null,
    message.value ?? null,
    headers === undefined || isEmpty(headers) ? NO_HEADERS : headers,
  );
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}
