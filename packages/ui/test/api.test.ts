import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVirtualClock, isMicrobatchError, type StreamingContext } from '@microbatch/core';
import { createPrometheusMetrics } from '@microbatch/metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { createDashboard, serveDashboard, type BatchRow, type DashboardMeta, type DashboardSnapshot, type ServedDashboard } from '../src/index.js';
import { SECRET_ERROR, createPipeline } from './support/pipeline.js';

const START = 1_700_000_000_000;

interface SseEvent {
  event: string;
  data: any;
}

/** Reads a real Server-Sent Events stream; `until` waits (without a clock) for an event matching a condition. */
async function openEvents(url: string) {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: SseEvent[] = [];
  let ended = false;
  let waiters: Array<() => void> = [];
  const notify = () => {
    for (const w of waiters) w();
    waiters = [];
  };
  void (async () => {
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
      notify();
    }
    ended = true;
    notify();
  })().catch(() => {
    ended = true;
    notify();
  });
  return {
    events,
    get ended() {
      return ended;
    },
    async until(test: (events: SseEvent[]) => boolean): Promise<void> {
      while (!test(events)) {
        if (ended) throw new Error(`the event stream ended first; got ${events.map((e) => e.event).join(', ')}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    async ending(): Promise<void> {
      while (!ended) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

let served: ServedDashboard | undefined;
let context: StreamingContext | undefined;
afterEach(async () => {
  await served?.close();
  await context?.stop({ graceful: false });
  served = undefined;
  context = undefined;
});

describe('dashboard HTTP API', () => {
  it('streams a snapshot then every batch update of a real pipeline, including a retried batch, and serves /api/state and /metrics', async () => {
    const { ssc, faults } = createPipeline({ clock: createVirtualClock(START), stopWhenIdle: true });
    context = ssc;
    const metrics = createPrometheusMetrics();
    ssc.addListener(metrics.listener);
    served = await serveDashboard({ context: ssc, registry: metrics.registry, port: 0 });
    expect(served.url).toBe(`http://127.0.0.1:${served.port}/`);
    const stream = await openEvents(`${served.url}events`);
    await stream.until((events) => events.length >= 1);
    const snapshot = stream.events[0]!;
    expect(snapshot.event).toBe('snapshot');
    expect(snapshot.data).toMatchObject({
      status: 'initialized',
      batches: [],
      historySize: 300,
      app: {
        appId: ssc.appId,
        batchIntervalMs: 200,
        sources: ['clicks'],
        operators: ['page-totals'],
        outputs: [{ name: 'totals', guarantee: 'idempotent' }, { name: 'audit' }],
        checkpointStore: 'memory',
      },
    });

    void faults.failOnce();
    await ssc.start();
    await ssc.awaitTermination();
    await stream.until((events) => events.some((e) => e.event === 'meta' && e.data.status === 'stopped'));

    const rows = stream.events.filter((e) => e.event === 'batch').map((e) => e.data as BatchRow);
    const times = [...new Set(rows.map((r) => r.batchTime))];
    expect(times).toHaveLength(4); // 20, 20, 20 records, then an idle batch
    const first = times[0]!;
    expect(rows.filter((r) => r.batchTime === first).map((r) => `${r.status}#${r.attempt}`)).toEqual([
      'queued#1',
      'running#1',
      'retrying#1',
      'running#2',
      'completed#2',
    ]);
    expect(rows.find((r) => r.batchTime === first && r.status === 'completed')).toMatchObject({
      numRecords: 20,
      inputRate: 100,
      error: expect.stringContaining('audit store unavailable (first attempt)'),
    });
    for (const time of times.slice(1)) expect(rows.filter((r) => r.batchTime === time).at(-1)!.status).toBe('completed');

    const state = (await (await fetch(`${served.url}api/state`)).json()) as DashboardSnapshot;
    expect(state.status).toBe('stopped');
    expect(state.epoch).toBe(1);
    expect(state.batches.map((b) => [b.batchTime, b.numRecords, b.status])).toEqual(times.map((t, i) => [t, i < 3 ? 20 : 0, 'completed']));
    expect(state.totals).toEqual({ completed: 4, failedAttempts: 1, records: 60, rejected: 0 });
    // Lag when the first batch was planned: 30 available, 10 taken, per partition.
    const firstMeta = stream.events.find((e) => e.event === 'meta' && Object.keys(e.data.lag).length > 0)!.data as DashboardMeta;
    expect(firstMeta.lag).toEqual({ clicks: { '0': 20, '1': 20 } });
    expect(state.lag).toEqual({ clicks: { '0': 0, '1': 0 } });
    expect(state.lastCheckpoint?.seq).toBeGreaterThan(0);

    const metricsText = await (await fetch(`${served.url}metrics`)).text();
    expect(metricsText).toMatch(/^microbatch_batches_completed_total 4$/m);
    const page = await fetch(served.url);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain(`<title>${ssc.appId} · microbatch</title>`);
    expect((await fetch(`${served.url}nope`)).status).toBe(404);
    expect((await fetch(`${served.url}api/state`, { method: 'POST' })).status).toBe(405);
  });

  it('shows a batch that failed for good as failed, with the redacted error, and why the context stopped', async () => {
    const { ssc, faults } = createPipeline({ clock: createVirtualClock(START), maxBatchAttempts: 2 });
    context = ssc;
    const dashboard = createDashboard({ context: ssc });
    faults.failAlways();
    await ssc.start();
    const stopped = await ssc.awaitTermination().catch((error: unknown) => error);
    expect(isMicrobatchError(stopped, 'BATCH_FAILED')).toBe(true);
    const state = dashboard.snapshot();
    expect(state.status).toBe('stopped');
    expect(state.batches).toHaveLength(1);
    expect(state.batches[0]).toMatchObject({ status: 'failed', attempt: 2 });
    expect(state.batches[0]!.error).toContain('audit store rejected the batch: postgres://audit:[REDACTED]@db.internal/audit');
    expect(state.stopError).toContain('failed after 2 attempt(s)');
    expect(JSON.stringify(state)).not.toContain('s3cret-pw');
    expect(SECRET_ERROR).toContain('s3cret-pw');
    expect(state.totals.failedAttempts).toBe(2);
    dashboard.close();
  });

  it('counts rejected records per source, reason and action, and in all, in /api/state, the event stream and /metrics', async () => {
    const { ssc } = createPipeline({ clock: createVirtualClock(START), stopWhenIdle: true, rejecting: true });
    context = ssc;
    const metrics = createPrometheusMetrics();
    ssc.addListener(metrics.listener);
    served = await serveDashboard({ context: ssc, registry: metrics.registry, port: 0 });
    const stream = await openEvents(`${served.url}events`);
    await stream.until((events) => events.length >= 1);
    await ssc.start();
    await ssc.awaitTermination();
    await stream.until((events) => events.some((e) => e.event === 'meta' && e.data.status === 'stopped'));
    // Offsets 0, 10 and 20 of each of the two partitions.
    const state = (await (await fetch(`${served.url}api/state`)).json()) as DashboardSnapshot;
    expect(state.rejected).toEqual([{ source: 'clicks', reason: 'bad page', action: 'skipped', count: 6 }]);
    expect(state.totals.rejected).toBe(6);
    const last = stream.events.filter((e) => e.event === 'meta').at(-1)!.data as DashboardMeta;
    expect(last.totals.rejected).toBe(6);
    expect(await (await fetch(`${served.url}metrics`)).text()).toContain('microbatch_records_rejected_total{source="clicks",reason="bad page",action="skipped"} 6');
  });

  it('keeps only the newest historySize batches, and /metrics is absent without a registry', async () => {
    const { ssc } = createPipeline({ clock: createVirtualClock(START), stopWhenIdle: true });
    context = ssc;
    served = await serveDashboard({ context: ssc, historySize: 2, port: 0 });
    await ssc.start();
    await ssc.awaitTermination();
    const state = (await (await fetch(`${served.url}api/state`)).json()) as DashboardSnapshot;
    expect(state.batches.map((b) => b.numRecords)).toEqual([20, 0]);
    expect(state.totals.completed).toBe(4);
    expect((await fetch(`${served.url}metrics`)).status).toBe(404);
  });

  it('chains with a host server, and close() ends event streams, refuses new ones and stops listening', async () => {
    const { ssc } = createPipeline({ clock: createVirtualClock(START), stopWhenIdle: true });
    context = ssc;
    const dashboard = createDashboard({ context: ssc });
    const server = createServer((req, res) => {
      if (dashboard.handler(req, res)) return;
      res.writeHead(200).end('host route');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      expect(await (await fetch(`${base}health`)).text()).toBe('host route');
      const stream = await openEvents(`${base}events`);
      await stream.until((events) => events.length === 1);
      dashboard.close();
      dashboard.close();
      await stream.ending();
      expect((await fetch(`${base}events`)).status).toBe(503);
      await ssc.start();
      await ssc.awaitTermination();
      expect(dashboard.snapshot().batches).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects bad options with INVALID_OPTION', async () => {
    const { ssc } = createPipeline();
    const attempts: Array<() => unknown> = [
      () => createDashboard({ context: undefined as unknown as StreamingContext }),
      () => createDashboard({ context: ssc, historySize: 0 }),
      () => createDashboard({ context: ssc, registry: {} as never }),
    ];
    for (const attempt of attempts) expect(() => attempt()).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    await expect(serveDashboard({ context: ssc, port: 70_000 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});
