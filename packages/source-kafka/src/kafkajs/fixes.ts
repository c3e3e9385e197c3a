import { fixKafkajsReadCommitted } from './aborted-filter.js';
import { fixKafkajsNegativeTimeout } from './timer-fix.js';

/**
 * The corrections this package makes to kafkajs 2.2.4, for every kafkajs client of the process:
 * read_committed reads never return records of aborted transactions (aborted-filter.ts), and
 * no TimeoutNegativeWarning on Node 24 (timer-fix.ts). Applied by every client this package
 * builds; an application's other kafkajs consumers that read transactional topics need it too.
 * Each part is applied once.
 */
export function fixKafkajs(): void {
  fixKafkajsNegativeTimeout();
  fixKafkajsReadCommitted();
}
