/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard, type ServedDashboard } from '../src/index.js';
import { launchBrowser } from './support/chromium.js';
import { createGroupMember } from './support/group.js';

// Every wait is for a condition on the page; the generous timeout only bounds a broken run.
const WAIT = { timeout: 30_000 };

describe("a group member's dashboard in a real browser", () => {
  let served: ServedDashboard;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let member: ReturnType<typeof createGroupMember>;

  beforeAll(async () => {
    // System clock, 200 ms batches, 60 new records/s per partition and 10 taken a batch: lag grows.
    member = createGroupMember({ initial: [0, 2], ratePerPartition: 60 });
    served = await serveDashboard({ group: member.group, description: member.description, port: 0 });
    browser = await launchBrowser();
    page = browser.page;
    await member.group.start();
  });

  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await member?.group.stop({ graceful: false });
  });

  const taskRows = () => page.locator('#tasks tbody tr').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));

  it('shows the tasks this member owns, each with its epoch and lag, and batches per task', async () => {
    await page.goto(served.url);
    await page.waitForSelector('#status[data-status="active"]', WAIT);
    await page.waitForSelector('#tasks-box:not([hidden])', WAIT);
    expect(await page.textContent('#tasks-owned')).toBe('0, 2');
    expect(await page.textContent('#rebalances')).toBe('0');
    expect(await page.textContent('#app-sources')).toBe('clicks');
    // Lag per task, measured when each task plans a batch: above 0 for both as it builds up.
    await page.waitForFunction(
      () => [...document.querySelectorAll('#tasks tbody tr')].filter((r) => Number(r.children[3]!.textContent!.replace(/,/g, '')) > 0).length === 2,
      undefined,
      WAIT,
    );
    const rows = await taskRows();
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ['0', 'running', '1'],
      ['2', 'running', '1'],
    ]);
    // The batch table says which task ran each batch; the lag table has each task's partition.
    await page.waitForSelector('#batches tbody tr[data-task="0"][data-status="completed"]', WAIT);
    await page.waitForSelector('#batches tbody tr[data-task="2"][data-status="completed"]', WAIT);
    expect(await page.locator('#batches tbody tr[data-task="1"]').count()).toBe(0);
    expect(await page.locator('#batches tbody tr[data-task="2"] td').first().textContent()).toMatch(/^task 2 · \d\d:\d\d:\d\d\.\d{3}/);
    const lagPartitions = await page.locator('#lag tbody tr').evaluateAll((rs) => rs.map((r) => r.children[1]!.textContent));
    expect(lagPartitions).toEqual(['0', '2']);
  });

  it('follows a rebalance: a revoked task shows as revoked and its lag leaves, a task assigned here starts', async () => {
    member.assign([1, 2]);
    await page.waitForSelector('#tasks tbody tr[data-task="0"][data-state="revoked"]', WAIT);
    await page.waitForSelector('#tasks tbody tr[data-task="1"][data-state="running"]', WAIT);
    expect(await page.textContent('#tasks-owned')).toBe('1, 2');
    expect(await page.textContent('#rebalances')).toBe('1');
    await page.waitForSelector('#batches tbody tr[data-task="1"][data-status="completed"]', WAIT);
    await page.waitForFunction(() => [...document.querySelectorAll('#lag tbody tr')].map((r) => r.children[1]!.textContent).join() === '1,2', undefined, WAIT);
    expect(await page.textContent('#status')).toBe('active');
  });
});
