// Scenario 8, child side: one member of the sample application's group (the program of
// `microbatch-sample run --group`: core's StreamingGroup with the Kafka group coordinator, one
// context per task, task N = partition N), and simulated members, many in one process, running
// an empty program for the scale plan.
import { mkdirSync } from 'node:fs';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingGroup, silentLogger, systemClock, type Clock, type StreamingContext } from '@microbatch/core';
import { buildProgram, contextOptions } from '@microbatch/sample/src/program.ts';
import { openDatabase } from '@microbatch/sample/src/resources.ts';
import { BatchRejections } from '@microbatch/sample/src/rejections.ts';
import { createKafkaGroupCoordinator, createKafkaSource } from '@microbatch/source-kafka';
import { emit } from '../events.ts';

/**
 * Batches back to back (as scenario 2's virtual clock) once the parent sends SIGUSR2: until then
 * every task waits before its first batch, so the members can all join and settle their
 * assignment before the drain is timed, and no member has started the topic alone.
 */
function gatedVirtualClocks(): { clock: () => Clock; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let isOpen = false;
  process.once('SIGUSR2', () => {
    isOpen = true;
    open();
  });
  const clock = (): Clock => {
    let now = Date.now();
    return {
      now: () => now,
      async sleep(ms, signal) {
        // A task revoked or stopped while it waits must wake up, as with the system clock.
        if (!isOpen) {
          await new Promise<void>((resolve) => {
            if (signal?.aborted) return resolve();
            signal?.addEventListener('abort', () => resolve(), { once: true });
            void opened.then(resolve);
          });
          if (!isOpen) return;
        }
        now += Math.max(0, ms);
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
    };
  };
  return { clock, opened };
}

export interface MemberArgs {
  readonly appId: string;
  readonly brokers: string[];
  readonly topic: string;
  readonly dbUrl: string;
  readonly checkpointDir: string;
  readonly perBatch: number;
  readonly sessionTimeoutMs: number;
  /** 'gated': back to back after SIGUSR2, stop when idle (throughput); 'system': real time, run until SIGTERM (failover, join). */
  readonly clock: 'gated' | 'system';
  readonly batchIntervalMs: number;
}

export interface MemberResult {
  readonly records: number;
  readonly batches: number;
  /** process.cpuUsage() (user + system), in seconds: at exit, and at the gate's opening ('gated'). */
  readonly cpuSec: number;
  readonly cpuAtGoSec: number;
  readonly tasksRun: number[];
}

const cpuSec = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** One `run --group` member of the sample (its program and context options), with the bench's clock and events. */
async function groupMember(args: MemberArgs): Promise<MemberResult> {
  const gate = args.clock === 'gated' ? gatedVirtualClocks() : undefined;
  let cpuAtGoSec = Number.NaN;
  void gate?.opened.then(() => (cpuAtGoSec = cpuSec()));
  const database = await openDatabase({ kind: 'postgres', url: args.dbUrl }, silentLogger);
  const store = createFsCheckpointStore({ dir: args.checkpointDir, logger: silentLogger });
  const input = { kind: 'kafka' as const, brokers: args.brokers, topic: args.topic };
  const settings = { batchIntervalMs: args.batchIntervalMs, untilIdle: args.clock === 'gated', maxRecordsPerPartition: args.perBatch };
  let records = 0;
  let batches = 0;
  const tasksRun = new Set<number>();
  try {
    const group = new StreamingGroup({
      appId: args.appId,
      coordinator: createKafkaGroupCoordinator({ brokers: args.brokers, topics: [args.topic], sessionTimeoutMs: args.sessionTimeoutMs }),
      logger: silentLogger,
      // As apps/sample/src/group-member.ts: the input is co-partitioned by user.
      shufflesWithinTask: true,
      context: (task) => ({ ...contextOptions(settings, store, task), clock: gate ? gate.clock() : systemClock }),
      build: (ssc, task) => void buildProgram(ssc, input, database.db, new BatchRejections(silentLogger), task),
    });
    group.addListener({
      onAssignment: ({ tasks }) => emit('assignment', { tasks }),
      onTaskStarted: ({ task, epoch }) => {
        tasksRun.add(task);
        emit('task-started', { task, epoch });
      },
      onTaskStopped: ({ task, reason }) => emit('task-stopped', { task, reason }),
      forTask: (task) => ({
        onBatchCompleted: (info) => {
          batches++;
          records += info.numRecords;
          emit('batch', { task, records: info.numRecords, replay: info.replay });
        },
      }),
    });
    emit('joining');
    await group.start();
    await group.awaitTermination();
  } finally {
    await store.close();
    await database.close();
  }
  return { records, batches, cpuSec: cpuSec(), cpuAtGoSec, tasksRun: [...tasksRun].sort((a, b) => a - b) };
}

export interface SimArgs {
  readonly appId: string;
  readonly brokers: string[];
  readonly checkpointDir: string;
  /** Co-partitioned topics: task N reads partition N of every one, through one Kafka source subscribed to all. */
  readonly topics: string[];
  /** Members in this process, each with its own Kafka group coordinator (its own connections). */
  readonly members: number;
  readonly sessionTimeoutMs: number;
  readonly batchIntervalMs: number;
}

/**
 * Simulated members for the scale plan: `members` StreamingGroups in this one process, on loopback
 * to one broker, each task a context with its own Kafka source (one client) on empty co-partitioned topics and a discarding
 * output, fs checkpoints. Commands on stdin (`add`, `remove`, `fast`, `cpu`, `stop`) add a member,
 * stop one gracefully, switch to batches back to back, report CPU, or stop them all; every group event goes to the parent with the member's index.
 */
async function simulatedMembers(args: SimArgs): Promise<{ batches: number; cpuSec: number }> {
  mkdirSync(args.checkpointDir, { recursive: true });
  // Real time until the parent sends `fast`, then batches back to back (what an empty batch
  // costs once nothing waits for the interval); never back, as virtual time runs ahead.
  let fast = false;
  const clock = (): Clock => {
    let virtual = 0;
    const now = () => {
      if (!fast) return Date.now();
      virtual ||= Date.now();
      return virtual;
    };
    return {
      now,
      async sleep(ms, signal) {
        if (!fast) return systemClock.sleep(ms, signal);
        virtual = now() + Math.max(0, ms);
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
    };
  };
  const store = createFsCheckpointStore({ dir: args.checkpointDir, logger: silentLogger });
  const groups: (StreamingGroup | undefined)[] = [];
  let batches = 0;
  const build = (ssc: StreamingContext) => {
    const source = createKafkaSource({ name: 'kafka', brokers: args.brokers, topics: args.topics, startingOffsets: 'earliest' });
    ssc.source(source).foreachBatch(async (batch) => void (await batch.count()), { name: 'discard' });
  };
  const addMember = async () => {
    const member = groups.length;
    const group = new StreamingGroup({
      appId: args.appId,
      coordinator: createKafkaGroupCoordinator({ brokers: args.brokers, topics: args.topics, sessionTimeoutMs: args.sessionTimeoutMs }),
      logger: silentLogger,
      stopOnSignals: false,
      context: () => ({ batchIntervalMs: args.batchIntervalMs, checkpoint: store, clock: clock() }),
      build,
    });
    groups.push(group);
    group.addListener({
      onAssignment: ({ tasks }) => emit('assignment', { member, tasks }),
      onTaskStarted: ({ task }) => emit('task-started', { member, task }),
      onTaskStopped: ({ task, reason }) => emit('task-stopped', { member, task, reason }),
      forTask: (task) => ({
        onBatchCompleted: (info) => {
          batches++;
          // Back to back, the count is enough: an event line per batch would cost more than the batch.
          if (!fast) emit('batch', { member, task, processingMs: info.processingDelay, totalMs: info.totalDelay, cpuSec: cpuSec() });
        },
      }),
    });
    emit('joining', { member });
    await group.start();
    emit('joined', { member });
  };
  // All at once, as processes started together would: one after the other, the first would start
  // every task only to hand most of them over at the next join.
  await Promise.all(Array.from({ length: args.members }, () => addMember()));
  emit('ready', { cpuSec: cpuSec() });
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    for (const command of chunk.split('\n').filter(Boolean)) {
      if (command === 'add') void addMember();
      else if (command === 'remove') {
        // The newest live member leaves gracefully (LeaveGroup): the others rebalance at once.
        const at = groups.findLastIndex((g) => g !== undefined);
        const group = groups[at]!;
        groups[at] = undefined;
        emit('leaving', { member: at });
        void group.stop().then(() => emit('left', { member: at }));
      } else if (command === 'fast') fast = true;
      else if (command === 'cpu') emit('cpu', { cpuSec: cpuSec(), batches });
      else if (command === 'stop') stop();
    }
  });
  await stopped;
  await Promise.all(groups.map((g) => g?.stop()));
  await store.close();
  return { batches, cpuSec: cpuSec() };
}

export const groupTasks = { 'group-member': groupMember, 'group-sim': simulatedMembers };
