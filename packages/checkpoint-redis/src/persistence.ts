import type { Logger } from '@microbatch/core';
import type { Redis } from 'ioredis';

/**
 * A Redis without AOF or RDB snapshots forgets every checkpoint (and epoch) when it restarts,
 * which would silently turn recovery into a fresh start: warn once, at start. Managed services
 * often forbid CONFIG; then the check is skipped with an info line, never failing the store.
 */
export async function checkPersistence(client: Redis, logger: Logger, url: string): Promise<void> {
  let appendonly: string | undefined;
  let save: string | undefined;
  try {
    appendonly = ((await client.config('GET', 'appendonly')) as string[])[1];
    save = ((await client.config('GET', 'save')) as string[])[1];
  } catch (error) {
    // Connection errors propagate (the caller retries); an error reply means CONFIG is not allowed.
    if ((error as { name?: string }).name !== 'ReplyError') throw error;
    logger.info({ err: error }, 'could not read the Redis persistence settings (CONFIG GET refused); not checked');
    return;
  }
  if (appendonly === 'no' && (save === undefined || save.trim() === '')) {
    logger.warn(
      { url: redactUrl(url), appendonly, save },
      'Redis has no persistence (appendonly no, save ""): checkpoints and epochs are lost if it restarts',
    );
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):([^@]+)@/, '//$1:***@');
}
