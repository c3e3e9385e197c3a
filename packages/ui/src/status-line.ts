import type { BatchInfo } from '@microbatch/core';

export interface StatusLineOptions {
  /** Shows the input rate (records per second over one interval) when given. */
  batchIntervalMs?: number;
  /** Time zone of the batch time. Default: the process's. */
  timeZone?: string;
  /**
   * Records the batch rejected (malformed input the application counted), shown as `rejected N`
   * when above 0: one count per batch instead of a log line per record. Default: not shown.
   */
  rejected?: number;
}

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * One line about a batch, for a CLI: rewritten in place on a TTY (`\r` + line), printed as a
 * plain line per batch otherwise. E.g.
 *   batch 12:00:01.200  1,234 records  6,170 rec/s  lag 42  rejected 12  processing 120 ms  scheduling 3 ms
 */
export function formatStatusLine(info: BatchInfo, options: StatusLineOptions = {}): string {
  const time = new Intl.DateTimeFormat('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 3,
    hour12: false,
    ...(options.timeZone ? { timeZone: options.timeZone } : {}),
  }).format(info.batchTime);
  const parts = [`batch ${time}`, `${count.format(info.numRecords)} records`];
  if (options.batchIntervalMs) parts.push(`${count.format((info.numRecords * 1000) / options.batchIntervalMs)} rec/s`);
  if (info.lag) {
    const lag = Object.values(info.lag).reduce((sum, partitions) => sum + Object.values(partitions).reduce((a, b) => a + b, 0), 0);
    parts.push(`lag ${count.format(lag)}`);
  }
  if (options.rejected) parts.push(`rejected ${count.format(options.rejected)}`);
  if (info.processingDelay !== undefined) parts.push(`processing ${formatMs(info.processingDelay)}`);
  if (info.schedulingDelay !== undefined) parts.push(`scheduling ${formatMs(info.schedulingDelay)}`);
  if (info.attempt > 1) parts.push(`attempt ${info.attempt}`);
  if (info.replay) parts.push('replay');
  return parts.join('  ');
}

function formatMs(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
