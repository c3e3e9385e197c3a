import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption, type StreamingContext } from '@microbatch/core';
import { metricsHandler } from '@microbatch/metrics';
import type { Registry } from '@microbatch/metrics';
import { renderPage } from './page.js';
import { EventHub } from './sse.js';
import { DashboardState, type DashboardSnapshot } from './state.js';

export interface DashboardOptions {
  /** The context to show. Required. The dashboard adds its listener to it; `close()` removes it. */
  context: StreamingContext;
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
  const { context, registry } = options;
  if (typeof context?.addListener !== 'function' || typeof context.removeListener !== 'function') {
    throw invalidOption('context', 'must be a StreamingContext', context);
  }
  const historySize = options.historySize ?? 300;
  if (!Number.isSafeInteger(historySize) || historySize < 1) throw invalidOption('historySize', 'must be an integer >= 1', historySize);
  if (registry !== undefined && typeof registry.metrics !== 'function') throw invalidOption('registry', 'must be a prom-client Registry', registry);

  const hub = new EventHub();
  const state = new DashboardState(context, historySize, (change) =>
    change.kind === 'batch' ? hub.send('batch', change.row) : hub.send('meta', change.meta),
  );
  context.addListener(state.listener);
  const serveMetrics = registry ? metricsHandler(registry) : undefined;
  let closed = false;

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
        send(res, 'text/html; charset=utf-8', renderPage(context.appId), {
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
      context.removeListener(state.listener);
      hub.close();
    },
  };
}

function send(res: ServerResponse, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
