// A separate process running a StreamingContext from a deterministic generator into the Kafka sink,
// so a test can SIGKILL it at a named point of a batch's transaction:
//   before-transaction   the engine is about to run the output (nothing of the batch sent)
//   during-sends         some produce requests of the open transaction are sent, others not
//   before-commit        every record and the commit records are sent, the commit is not
//   after-commit         the transaction committed; the engine has not recorded the batch's completion
// It prints `trace <point> <batchTime>` and lingers there a moment, for the parent to kill it.
// Args: brokers topic progressTopic checkpointDir appId records partitions [gateFile]
// With gateFile, it stops at its first before-commit until the file exists (the zombie test).
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingContext, isMicrobatchError, silentLogger } from '@microbatch/core';
import { fixKafkajs } from '@microbatch/source-kafka';
import { createGeneratorSource } from '@microbatch/source-memory';
import { Kafka, logLevel, type Producer, type Transaction } from 'kafkajs';
import { createKafkaSink } from '../../src/index.js';

const [brokers, topic, progressTopic, dir, appId, records, partitions, gate] = process.argv.slice(2) as [string, string, string, string, string, string, string, string | undefined];
const say = (line: string) => process.stdout.write(`${line}\n`);
const LINGER_MS = 20;
let batchTime = 0;
async function point(name: string): Promise<void> {
  say(`trace ${name} ${batchTime}`);
  await sleep(LINGER_MS);
}

// The sink's producers, wrapped: the sink takes an injected kafkajs client, so the crash points
// inside its transactions need no hook in the library.
fixKafkajs();
const kafka = new Kafka({ clientId: 'crash-child', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const producer = kafka.producer.bind(kafka);
kafka.producer = (config) => {
  const p: Producer = producer(config);
  const transaction = p.transaction.bind(p);
  p.transaction = async () => {
    const tx: Transaction = await transaction();
    const sendBatch = tx.sendBatch.bind(tx);
    const commit = tx.commit.bind(tx);
    let sends = 0;
    const isProgress = (batch: Parameters<Transaction['sendBatch']>[0]) => batch.topicMessages?.every((t) => t.topic === progressTopic) ?? false;
    let data = false;
    return Object.assign(tx, {
      async sendBatch(batch: Parameters<Transaction['sendBatch']>[0]) {
        if (!isProgress(batch)) {
          data = true;
          if (sends++ === 1) await point('during-sends');
        }
        return sendBatch(batch);
      },
      async commit() {
        if (data) {
          if (gate && !existsSync(gate)) {
            say(`trace gate ${batchTime}`);
            while (!existsSync(gate)) await sleep(20);
          } else await point('before-commit');
        }
        await commit();
        if (data) await point('after-commit');
      },
    });
  };
  return p;
};

const perPartition = Math.ceil(Number(records) / Number(partitions));
const source = createGeneratorSource({
  name: 'gen',
  partitions: Number(partitions),
  recordsPerPartition: (p) => Math.max(0, Math.min(perPartition, Number(records) - p * perPartition)),
  generate: ({ partition, offset }) => ({ id: `${partition}:${offset}`, pad: 'x'.repeat(60) }),
});
const ssc = new StreamingContext({
  appId,
  batchIntervalMs: 50,
  checkpoint: createFsCheckpointStore({ dir }),
  maxRecordsPerPartition: 2500,
  stopWhenIdle: true,
  stopOnSignals: false,
  logger: silentLogger,
  atProtocolPoint: async (p, info) => {
    batchTime = info.batchTime;
    if (p === 'output:before') await point('before-transaction');
  },
});
ssc.source(source).to(
  createKafkaSink<{ id: string; pad: string }>({
    name: 'out',
    brokers,
    kafka,
    topic,
    progressTopic,
    key: (r) => r.id,
    value: (r) => JSON.stringify(r),
    // Small requests: a batch's transaction takes several sends, so a kill can land between them.
    maxRequestBytes: 16 * 1024,
  }),
);
try {
  await ssc.start();
  await ssc.awaitTermination();
  say('done');
  process.exit(0);
} catch (error) {
  // Who refused: the sink (its FencedError names the output) or the checkpoint store.
  const fenced = [error, (error as { cause?: unknown }).cause].find((e) => isMicrobatchError(e, 'FENCED'));
  const by = fenced && isMicrobatchError(fenced) ? (fenced.details.output ?? 'checkpoint') : undefined;
  say(fenced ? `stopped FENCED by ${String(by)}` : `failed ${(error as Error).message}`);
  process.exit(fenced ? 3 : 1);
}
