import type { Checkpoint, CheckpointStore, ProtocolPoint } from '@microbatch/core';

/** Protocol points a crash can be injected at, including the two sides of a checkpoint write. */
export type CrashPoint =
  | ProtocolPoint
  | 'checkpoint:during-write'
  | 'checkpoint:after-write-unacknowledged'
  | 'snapshot:after-write'
  | (string & {});

export const PROTOCOL_CRASH_POINTS: readonly CrashPoint[] = [
  'plan:before-write',
  'checkpoint:during-write',
  'checkpoint:after-write-unacknowledged',
  'plan:after-write',
  'output:before',
  'output:partition',
  'output:after',
  'snapshot:after-write',
];

/**
 * Simulates a process dying at a named point, in-process: when the armed point is reached for the
 * n-th time, the code that reached it freezes forever (a promise that never settles), exactly as
 * if the process had been killed there; nothing after that point ever runs. The test then starts a
 * new context on the same store and sink, as a restarted process would. The frozen one stays a
 * zombie: if it ever woke up, epoch fencing would have to stop it.
 */
export interface CrashSwitch {
  arm(point: CrashPoint, nth?: number): void;
  /** Pass as the context's `atProtocolPoint` option. */
  readonly atProtocolPoint: (point: ProtocolPoint, info: { batchTime: number; attempt: number }) => Promise<void>;
  /** Call from an output (e.g. after each committed partition) to offer a crash point there. */
  point(name: CrashPoint): Promise<void>;
  /** Wraps a store so crashes can hit the middle of a checkpoint write. */
  wrapStore(store: CheckpointStore): CheckpointStore;
  /** Resolves with the point's name once the crash happened. */
  readonly crashed: Promise<CrashPoint>;
  readonly hasCrashed: boolean;
  /**
   * How often each point was reached so far, armed or not: run an unarmed switch through an
   * uninterrupted run to learn which `nth` of a point a crash test can really reach.
   */
  readonly reached: ReadonlyMap<CrashPoint, number>;
}

const never = new Promise<never>(() => {});

export function createCrashSwitch(): CrashSwitch {
  let armed: { point: CrashPoint; remaining: number } | undefined;
  let hasCrashed = false;
  const reached = new Map<CrashPoint, number>();
  let resolveCrashed!: (point: CrashPoint) => void;
  const crashed = new Promise<CrashPoint>((resolve) => (resolveCrashed = resolve));

  const reach = async (point: CrashPoint): Promise<void> => {
    if (hasCrashed) return never; // a dead process does nothing more
    reached.set(point, (reached.get(point) ?? 0) + 1);
    if (!armed || armed.point !== point) return;
    armed.remaining -= 1;
    if (armed.remaining > 0) return;
    hasCrashed = true;
    resolveCrashed(point);
    return never;
  };

  return {
    arm(point, nth = 1) {
      armed = { point, remaining: nth };
    },
    atProtocolPoint: (point) => reach(point),
    point: reach,
    get hasCrashed() {
      return hasCrashed;
    },
    crashed,
    reached,
    wrapStore(store) {
      return {
        ...store,
        kind: store.kind,
        retain: store.retain,
        async write(checkpoint: Checkpoint) {
          await reach('checkpoint:during-write');
          await store.write(checkpoint);
          await reach('checkpoint:after-write-unacknowledged');
        },
        acquireEpoch: (appId) => store.acquireEpoch(appId),
        currentEpoch: (appId) => store.currentEpoch(appId),
        latest: (appId) => store.latest(appId),
        list: (appId) => store.list(appId),
        read: (appId, name) => store.read(appId, name),
        async putBlob(appId, key, data, epoch) {
          await store.putBlob(appId, key, data, epoch);
          await reach('snapshot:after-write');
        },
        getBlob: (appId, key) => store.getBlob(appId, key),
        listBlobs: (appId) => store.listBlobs(appId),
        close: () => store.close(),
      };
    },
  };
}
