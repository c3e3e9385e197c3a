import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isMicrobatchError } from '@microbatch/core';
import { randomAppId, sampleCheckpoint, spawnTsChild, type TsChild } from '@microbatch/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createFsCheckpointStore } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'microbatch-fs-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const script = fileURLToPath(new URL('./support/fs-child.ts', import.meta.url));
const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
const children: TsChild[] = [];
const spawn = (...args: string[]) => {
  const child = spawnTsChild(script, args, { packagesDir });
  children.push(child);
  return child;
};
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill();
});

describe('fs store under process crashes and races', () => {
  it('a writer SIGKILLed at random moments never leaves a torn checkpoint', async () => {
    const appId = randomAppId();
    for (let round = 1; round <= 4; round++) {
      const child = spawn('write-loop', dir, appId, '20000');
      await child.waitFor((l) => l.startsWith('wrote '));
      await sleep(Math.random() * 150);
      await child.kill();
      const confirmed = Math.max(...child.lines.map((l) => Number(l.split(' ')[1])));
      const store = createFsCheckpointStore({ dir, retain: 3 });
      try {
        const latest = await store.latest(appId);
        // Every checkpoint on disk decodes: nothing was skipped, and the newest is at least the last confirmed one.
        expect(latest?.skipped).toEqual([]);
        expect(latest!.checkpoint.seq).toBeGreaterThanOrEqual(confirmed);
        expect(latest!.checkpoint.epoch).toBe(round);
        expect(Object.keys(latest!.checkpoint.sources.events!.offsets)).toHaveLength(20000);
        for (const name of await store.list(appId)) await store.read(appId, name);
      } finally {
        await store.close();
      }
    }
  });

  it('a blob write killed halfway leaves no blob, and its temporary file is swept later', async () => {
    const appId = randomAppId();
    const child = spawn('hang-in-blob', dir, appId);
    await child.waitFor((l) => l === 'mid-blob');
    expect(readdirSync(join(dir, appId, 'tmp'))).toHaveLength(1);
    await child.kill();
    const store = createFsCheckpointStore({ dir });
    try {
      expect(await store.listBlobs(appId)).toEqual([]);
      await store.acquireEpoch(appId);
      expect(readdirSync(join(dir, appId, 'tmp'))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('a process killed while holding the app lock does not wedge the app', async () => {
    const appId = randomAppId();
    const child = spawn('hang-in-lock', dir, appId);
    await child.waitFor((l) => l === 'locked');
    const store = createFsCheckpointStore({ dir, lockTimeoutMs: 300 });
    try {
      // While the owner is alive the lock holds, and waiting ends in a clear error, not a hang.
      const error = await store.acquireEpoch(appId).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'CHECKPOINT_STORE_UNAVAILABLE')).toBe(true);
      await child.kill();
      expect(existsSync(join(dir, appId, '.lock'))).toBe(true);
      expect(await store.acquireEpoch(appId)).toBe(2);
      expect(existsSync(join(dir, appId, '.lock'))).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('processes racing for the epoch each get distinct epochs, and the loser of the race is fenced', async () => {
    const appId = randomAppId();
    const racers = [1, 2, 3].map(() => spawn('acquire', dir, appId, '15'));
    const store = createFsCheckpointStore({ dir });
    try {
      const mine: number[] = [];
      for (let i = 0; i < 15; i++) mine.push(await store.acquireEpoch(appId));
      await Promise.all(racers.map((r) => r.exited()));
      const all = [...mine, ...racers.flatMap((r) => JSON.parse(r.lines[0]!) as number[])].sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(await store.currentEpoch(appId)).toBe(60);
      // An epoch this process took before the others went on is stale now: its writes are refused.
      const error = await store.write(sampleCheckpoint(appId, { epoch: Math.min(...mine), seq: 1, time: 1000 })).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'FENCED')).toBe(true);
      expect(await store.list(appId)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
