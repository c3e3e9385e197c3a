import type { Logger } from '../api/logger.js';
import type { PartitionOffsets } from '../api/offsets.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import type { StreamGraph } from '../dstream/graph.js';
import { MicrobatchError } from '../errors.js';
import { partitionNumberOf, taskAppId, type TaskScope } from './task-id.js';

/**
 * A single process keeps its checkpoints under the app id, a group one namespace per task. Starting
 * one layout over data of the other would silently start from scratch and output everything again,
 * so a mismatch fails start with CHECKPOINT_LAYOUT_MISMATCH, saying how to move. Returns the
 * offsets a task starts from when it migrates from single-process checkpoints on request.
 */
export async function checkTaskLayout(
  store: CheckpointStore,
  options: { readonly appId: string; readonly task: TaskScope | undefined; readonly migrateFromSingleProcess: boolean },
  graph: StreamGraph,
  logger: Logger,
): Promise<Map<string, PartitionOffsets> | undefined> {
  const { appId, task } = options;
  if (!task) {
    const firstTask = taskAppId(appId, 0);
    if ((await store.list(firstTask)).length === 0) return undefined;
    throw new MicrobatchError(
      'CHECKPOINT_LAYOUT_MISMATCH',
      `App ${appId} has run as a group of tasks (${firstTask} has checkpoints in the ${store.kind} store): a single process under ${appId} would ` +
        'start from scratch and output everything again. Run it as a StreamingGroup again (a one-member group runs every task in one process).',
      { details: { appId, taskCheckpoints: firstTask } },
    );
  }
  if ((await store.list(appId)).length > 0) return undefined; // the task has its own checkpoints
  const single = await store.latest(task.groupAppId);
  if (!single) return undefined;
  const { checkpoint, name } = single;
  const details = { appId: task.groupAppId, task: task.id, checkpoint: name };
  if (!options.migrateFromSingleProcess) {
    throw new MicrobatchError(
      'CHECKPOINT_LAYOUT_MISMATCH',
      `App ${task.groupAppId} has single-process checkpoints (newest ${name}), and task ${task.id} has none of its own: starting it from scratch ` +
        'would output everything again. To move to a group: stop the single process gracefully (so nothing is pending), then start the group ' +
        'once with migrateFromSingleProcess: true; each task starts from the offsets of its partitions (docs/semantics.md §10).',
      { details },
    );
  }
  const pending = checkpoint.batches.filter((b) => !b.completed).map((b) => b.time);
  if (pending.length > 0) {
    throw new MicrobatchError(
      'CHECKPOINT_LAYOUT_MISMATCH',
      `Cannot migrate app ${task.groupAppId} to tasks: its checkpoint ${name} has pending batches (${pending.join(', ')}), which must replay as logged. ` +
        'Start the single process once more and stop it gracefully, then migrate.',
      { details: { ...details, pending } },
    );
  }
  const stateful = Object.keys(checkpoint.operators);
  if (stateful.length > 0 || graph.stateful.length > 0) {
    throw new MicrobatchError(
      'CHECKPOINT_LAYOUT_MISMATCH',
      `Cannot migrate app ${task.groupAppId} to tasks: operator state (${stateful.join(', ') || graph.stateful.map((o) => o.name).join(', ')}) ` +
        'is kept for the whole application and cannot be split by task. Start the group under a new app id, or reset those operators.',
      { details: { ...details, operators: stateful } },
    );
  }
  const seed = new Map<string, PartitionOffsets>();
  for (const [sourceName, source] of graph.sources) {
    const offsets = checkpoint.sources[sourceName]?.offsets ?? {};
    seed.set(sourceName, Object.fromEntries(Object.entries(offsets).filter(([p]) => partitionNumberOf(source, p) === task.id)));
  }
  logger.info({ ...details, offsets: Object.fromEntries(seed) }, 'task starts from the single-process checkpoint (migrateFromSingleProcess)');
  return seed;
}
