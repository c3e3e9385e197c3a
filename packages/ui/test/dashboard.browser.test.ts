/// <reference lib="dom" />
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrometheusMetrics } from '@microbatch/metrics';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard, type ServedDashboard } from '../src/index.js';
import { launchBrowser } from './support/chromium.js';
import { createPipeline, type Faults } from './support/pipeline.js';

// Every wait is for a condition on the page; the generous timeout only bounds a broken run.
const WAIT = { timeout: 30_000 };
const SCREENSHOT = fileURLToPath(new URL('../docs/dashboard.png', import.meta.url));

describe('dashboard in a real browser', () => {
  let served: ServedDashboard;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let faults: Faults;
  let profile: string;
  let stopContext: () => Promise<void>;
  let appId: string;

  beforeAll(async () => {
    // System clock, 200 ms batches, 60 records/s per partition: charts move while the test watches.
    // The audit output "works" 10-130 ms, varying by batch, so the delay charts have a shape.
    const pipeline = createPipeline({ batchIntervalMs: 200, ratePerPartition: 60, retryBackoffMs: 100, workMs: (t) => 10 + ((t / 200) % 13) * 10 });
    faults = pipeline.faults;
    appId = pipeline.ssc.appId;
    const metrics = createPrometheusMetrics();
    pipeline.ssc.addListener(metrics.listener);
    served = await serveDashboard({ context: pipeline.ssc, registry: metrics.registry, port: 0 });
    stopContext = () => pipeline.ssc.stop({ graceful: false });
    browser = await launchBrowser();
    ({ page, profile } = browser);
    await pipeline.ssc.start();
  });

  afterAll(async () => {
    faults?.release();
    await browser?.close();
    await served?.close();
    await stopContext?.();
  });

  const points = async (chart: string) => Number(await page.getAttribute(`#chart-${chart}`, 'data-points'));

  it('loads, connects to the event stream and describes the application', async () => {
    const response = await page.goto(served.url);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe(`${appId} · microbatch`);
    await page.waitForSelector('#connection[data-connected="true"]', WAIT);
    await page.waitForSelector('#status[data-status="active"]', WAIT);
    expect(await page.textContent('#app-sources')).toBe('clicks');
    expect(await page.textContent('#app-operators')).toBe('page-totals');
    expect(await page.locator('#app-outputs .tag').allTextContents()).toEqual(['totals idempotent sink', 'audit foreachBatch']);
    expect(await page.textContent('#app-checkpoint')).toBe('memory');
    expect(await page.textContent('#epoch')).toBe('1');
    expect(await page.textContent('#interval')).toBe('200 ms');
  });

  it('updates the four charts, the batch table and the lag as batches complete', async () => {
    await page.waitForFunction(() => Number(document.querySelector('#chart-inputRate')?.getAttribute('data-points')) >= 3, undefined, WAIT);
    const before = await points('inputRate');
    // Strictly more points later: the page follows new batches without a reload.
    await page.waitForFunction((n) => Number(document.querySelector('#chart-inputRate')?.getAttribute('data-points')) > n, before, WAIT);
    for (const chart of ['inputRate', 'schedulingDelay', 'processingDelay', 'totalDelay']) {
      expect(await points(chart), chart).toBeGreaterThan(before);
      const line = await page.getAttribute(`#chart-${chart} polyline`, 'points');
      expect(line!.trim().split(/\s+/).length, chart).toBe(await points(chart));
    }
    // The processing chart draws the batch interval as its reference line.
    expect(await page.locator('#chart-processingDelay line.ref').count()).toBe(1);
    expect(Number(await page.textContent('#completed'))).toBeGreaterThanOrEqual(before);
    const completedRows = page.locator('#batches tbody tr[data-status="completed"]');
    expect(await completedRows.count()).toBeGreaterThanOrEqual(before);
    await page.waitForFunction(() => document.querySelectorAll('#lag tbody tr').length === 2, undefined, WAIT);
    const lagRows = await page.locator('#lag tbody tr').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
    expect(lagRows.map((r) => r.slice(0, 2))).toEqual([
      ['clicks', '0'],
      ['clicks', '1'],
    ]);
    // 12 new records per partition per 200 ms and 10 taken: the lag grows, so it eventually shows above 0.
    await page.waitForFunction(
      () => [...document.querySelectorAll('#lag tbody tr td.num')].every((td) => Number(td.textContent!.replace(/,/g, '')) > 0),
      undefined,
      WAIT,
    );
  });

  it('shows a failed attempt and its error while the retry runs, then the batch as completed', async () => {
    if (process.env.MICROBATCH_UPDATE_SCREENSHOT) {
      // A fuller history for the README's picture.
      await page.waitForFunction(() => Number(document.querySelector('#chart-inputRate')?.getAttribute('data-points')) >= 40, undefined, WAIT);
    }
    const retrying = faults.failOnce(true);
    const batchTime = await retrying; // attempt 2 now waits for release()
    const row = page.locator(`#batches tbody tr[data-batch-time="${batchTime}"]`);
    await page.waitForSelector(`#batches tbody tr[data-batch-time="${batchTime}"][data-status="running"] td.attempt:text-is("2")`, WAIT);
    expect(await row.locator('td.error').textContent()).toBe(`Output "audit" failed for batch ${batchTime} (attempt 1): audit store unavailable (first attempt)`);
    // The chart marks the batch with a failed attempt (an SVG line of no width: attached, not "visible").
    await page.waitForSelector('#chart-processingDelay line.fail', { ...WAIT, state: 'attached' });
    faults.release();
    await page.waitForSelector(`#batches tbody tr[data-batch-time="${batchTime}"][data-status="completed"]`, WAIT);
    expect(await row.locator('.badge').textContent()).toBe('completed');
    expect(Number(await page.textContent('#failed-attempts'))).toBe(1);
  });

  it('shows a batch that fails for good as failed, with its redacted error, and the stopped context', async () => {
    faults.failAlways();
    const failed = page.locator('#batches tbody tr[data-status="failed"]');
    await failed.first().waitFor(WAIT);
    expect(await failed.count()).toBe(1);
    expect(await failed.locator('.badge').textContent()).toBe('failed');
    expect(await failed.locator('td.attempt').textContent()).toBe('3');
    expect(await failed.locator('td.error').textContent()).toContain('audit store rejected the batch: postgres://audit:[REDACTED]@db.internal/audit');
    await page.waitForSelector('#status[data-status="stopped"]', WAIT);
    await page.waitForSelector('#stop-error:not([hidden])', WAIT);
    expect(await page.textContent('#stop-error')).toMatch(/^Stopped on an error: Batch \d+ failed after 3 attempt\(s\)/);
    expect(await page.content()).not.toContain('s3cret-pw');

    // The README's screenshot: refreshed with MICROBATCH_UPDATE_SCREENSHOT=1, else taken to a temp file.
    const path = process.env.MICROBATCH_UPDATE_SCREENSHOT ? SCREENSHOT : join(profile, 'dashboard.png');
    await page.screenshot({ path, fullPage: false });
    expect(statSync(path).size).toBeGreaterThan(10_000);
  });
});
