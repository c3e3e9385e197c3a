// Entry point of a measured child process: `node --import tsx child.ts <task> <json args>`.
// Reports events and its result as marked JSON lines on stdout, with its own peak RSS.
import { fixKafkajs } from '@microbatch/source-kafka';
import { checkpointTasks } from './scenarios/checkpoints.ts';
import { endToEndTasks } from './scenarios/end-to-end.ts';
import { engineTasks } from './scenarios/engine.ts';
import { eventTimeTasks } from './scenarios/event-time.ts';
import { groupTasks } from './scenarios/group.ts';
import { kafkaToKafkaTasks } from './scenarios/kafka-to-kafka.ts';
import { scaleTasks } from './scenarios/scale.ts';
import { stateTasks } from './scenarios/state.ts';

// The children's own kafkajs clients (producers, baseline consumers) run on the same corrected
// kafkajs as the source: read_committed filtering, no TimeoutNegativeWarning.
fixKafkajs();

type Task = (args: never) => Promise<unknown>;
const tasks: Record<string, Task> = { ...engineTasks, ...endToEndTasks, ...checkpointTasks, ...stateTasks, ...scaleTasks, ...groupTasks, ...eventTimeTasks, ...kafkaToKafkaTasks };

const [name, json] = process.argv.slice(2);
const task = tasks[name ?? ''];
if (!task) {
  process.stderr.write(`unknown bench task "${name}"; known: ${Object.keys(tasks).join(', ')}\n`);
  process.exit(2);
}
const result = await task(JSON.parse(json ?? '{}') as never);
process.stdout.write(`@@bench ${JSON.stringify({ type: 'result', result, maxRssKB: process.resourceUsage().maxRSS })}\n`);
// Clients that keep sockets (kafkajs, pg) must not keep a finished measurement alive.
process.exit(0);
