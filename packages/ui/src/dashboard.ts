import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption, type AppDescription, type StreamingContext, type StreamingGroup, type StreamingListener } from '@microbatch/core';
import { metricsHandler } from '@microbatch/metrics';
import type { Registry } from '@microbatch/metrics';
import { renderPage } from './page.js';
import { EventHub } from './sse.js';
import { GroupTracker } from './group-state.js';
import { DashboardState, type DashboardSnapshot, type DashboardSubject } from './state.js';

export interface DashboardOptions {
  /** The context to show. Required unless `group` is given. The dashboard adds its listener to it; `close()` removes it. */
  context?: StreamingContext;
  /**
   * A group member to show instead of a context: the tasks it owns, rebalances, per task its
   * state, epoch and lag, and every task's batches. Add the dashboard before `group.start()`;
   * it sees each task's context as the task starts.
   */
  group?: StreamingGroup;
  /**
   * With `group`, required: what the application is made of, e.g. the `description` of a context
   * the group's `build` made (every task runs the same program; the group builds one to check
   * it when it starts, before it joins). A function is read when a page asks, so it may return
   * what `build` captured. A group does not expose its description itself.
   */
  description?: AppDescription | (() => AppDescription);
  /** A prom-client registry (e.g. from `createPrometheusMetrics`) to serve at `/metrics`. Default: no `/metrics`. */
  registry?: Registry;
  /** Batches kept for the charts and the table. Default 300. */
  historySize?: number;
}

export interface Dashboard {
  /**
   * Serves `/` (the page), `/events` (Server-Sent Events), `/api/state` (JSON) and `/metrics`
   * (with a registry). Returns false, leaving `res` untouched, for any other path, so a host
   * server can chain its own routes.
   */
  handler(req: IncomingMessage, res: ServerResponse): boolean;
  /** What `/api/state` returns. */
  snapshot(): DashboardSnapshot;
  /** Removes the listener and ends open event streams. Safe to call twice. */
  close(): void;
}

export function createDashboard(options: DashboardOptions): Dashboard {
  const { context, group, registry } = options;
  if (group !== undefined) {
    if (typeof group?.addListener !== 'function' || typeof group.appId !== 'string') throw invalidOption('group', 'must be a StreamingGroup', group);
    if (context !== undefined) throw invalidOption('context', 'give a context or a group, not both', context);
    if (typeof options.description !== 'function' && typeof options.description?.batchIntervalMs !== 'number') {
      throw invalidOption('description', "must be the program's AppDescription (a task context's description), or a function giving it, with a group", options.description);
    }
  } else if (typeof context?.addListener !== 'function' || typeof context.removeListener !== 'function') {
    throw invalidOption('context', 'must be a StreamingContext', context);
  }
  const historySize = options.historySize ?? 300;
  if (!Number.isSafeInteger(historySize) || historySize < 1) throw invalidOption('historySize', 'must be an integer >= 1', historySize);
  if (registry !== undefined && typeof registry.metrics !== 'function') throw invalidOption('registry', 'must be a prom-client Registry', registry);

  const hub = new EventHub();
  let closed = false;
  const tracker = new GroupTracker(() => state.groupChanged());
  const describe = typeof options.description === 'function' ? options.description : () => options.description as AppDescription;
  const subject: DashboardSubject = group
    ? {
        get description() {
          return describe();
        },
        get status() {
          return group.status;
        },
        epoch: undefined,
        get batchIntervalMs() {
          return describe().batchIntervalMs;
        },
        group: () => tracker.view,
      }
    : context!;
  const state = new DashboardState(subject, historySize, (change) => {
    if (!closed) change.kind === 'batch' ? hub.send('batch', change.row) : hub.send('meta', change.meta);
  });
  if (group) {
    // A group has no removeListener: after close() the listener stays, and the hub is closed.
    group.addListener({
      ...tracker.listener,
      onTaskStopped: (e) => {
        tracker.listener.onTaskStopped!(e);
        if (e.reason === 'failed') state.stopped(Date.now(), e.error);
      },
      forTask: (task) => both(tracker.taskListener(task), state.listenerFor(task)),
    });
  } else {
    context!.addListener(state.listener);
  }
  const serveMetrics = registry ? metricsHandler(registry) : undefined;
  const appId = group ? group.appId : context!.appId;

  return {
    handler(req, res) {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path === '/metrics' && serveMetrics) {
        void serveMetrics(req, res);
        return true;
      }
      if (path !== '/' && path !== '/index.html' && path !== '/events' && path !== '/api/state') return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return true;
      }
      if (path === '/events') {
        if (closed) res.writeHead(503).end('the dashboard is closed\n');
        else hub.open(res, { event: 'snapshot', data: state.snapshot() });
      } else if (path === '/api/state') {
        send(res, 'application/json; charset=utf-8', JSON.stringify(state.snapshot()));
      } else {
        send(res, 'text/html; charset=utf-8', renderPage(appId), {
          // Inline script and styles only; the page talks to its own origin and nothing else.
          'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        });
      }
      return true;
    },
    snapshot: () => state.snapshot(),
    close() {
      if (closed) return;
      closed = true;
      context?.removeListener(state.listener);
      hub.close();
    },
  };
}

/** One listener calling two, for each event either has. */
function both(a: StreamingListener, b: StreamingListener): StreamingListener {
  const merged: Record<string, (event: never) => void> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof StreamingListener>) {
    merged[key] = (event: never) => {
      (a[key] as ((e: never) => void) | undefined)?.(event);
      (b[key] as ((e: never) => void) | undefined)?.(event);
    };
  }
  return merged as StreamingListener;
}

function send(res: ServerResponse, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
