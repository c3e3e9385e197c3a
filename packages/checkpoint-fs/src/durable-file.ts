import { open } from 'node:fs/promises';
import type { BlobData } from '@microbatch/core';
import { hasCode } from './lock-file.js';

/** Writes `data` to a new file (never an existing one) and fsyncs it before returning. */
export async function writeDurably(path: string, data: BlobData): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    if (data instanceof Uint8Array) await handle.writeFile(data);
    else for await (const chunk of data) await handle.write(chunk);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory so a rename or unlink in it survives a power loss, not only a process crash. */
export async function syncDirectory(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch (error) {
    // Windows cannot open or fsync directories; its rename is durable enough without it.
    if (process.platform === 'win32' && (hasCode(error, 'EPERM') || hasCode(error, 'EISDIR'))) return;
    throw error;
  } finally {
    await handle?.close();
  }
}
