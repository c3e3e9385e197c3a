import { MicrobatchError } from '@microbatch/core';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** The core partition id of a Kafka topic partition: `<topic>:<partition>` (topic names have no ':'). */
export function partitionId(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

export function parsePartitionId(id: string): TopicPartition {
  const at = id.lastIndexOf(':');
  const partition = Number(id.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(partition) || partition < 0 || id.slice(at + 1) === '') {
    throw new MicrobatchError('INVALID_OPTION', `"${id}" is not a Kafka partition id; expected "<topic>:<partition>"`, {
      details: { partition: id },
    });
  }
  return { topic: id.slice(0, at), partition };
}
