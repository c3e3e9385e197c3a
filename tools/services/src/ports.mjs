import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export function isPortOpen(host, port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits until host:port accepts connections; fails early if `child` exits first. */
export async function waitForPort(host, port, { timeoutMs = 60_000, child, what = `${host}:${port}` } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it listened`);
    if (await isPortOpen(host, port)) return;
    await sleep(200);
  }
  throw new Error(`${what} did not listen within ${timeoutMs} ms`);
}

export function hostPort(url, defaultPort) {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || defaultPort) };
}
