import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invalidOption } from '@microbatch/core';
import { createDashboard, type DashboardOptions } from './dashboard.js';

export interface ServeDashboardOptions extends DashboardOptions {
  /** TCP port; 0 picks a free one. Default 4040 (Spark's UI port). */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1: the dashboard has no authentication. */
  host?: string;
}

export interface ServedDashboard {
  /** e.g. http://127.0.0.1:4040/ */
  readonly url: string;
  readonly port: number;
  /** Closes the dashboard and the server (open event streams included). Safe to call twice. */
  close(): Promise<void>;
}

/** Creates a dashboard and serves it, and nothing else, on its own HTTP server. */
export async function serveDashboard(options: ServeDashboardOptions): Promise<ServedDashboard> {
  const port = options.port ?? 4040;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw invalidOption('port', 'must be an integer from 0 to 65535', port);
  const host = options.host ?? '127.0.0.1';
  const dashboard = createDashboard(options);
  const server = createServer((req, res) => {
    if (!dashboard.handler(req, res)) res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    dashboard.close();
    throw error;
  }
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/`,
    port: actual,
    close() {
      closing ??= new Promise<void>((resolve) => {
        dashboard.close();
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
