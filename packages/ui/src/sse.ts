import type { ServerResponse } from 'node:http';

/** Server-Sent Events clients of one dashboard: every change is written to all of them. */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | undefined;

  /** Starts an event stream on `res`; `first` is sent before any later event. */
  open(res: ServerResponse, first: { event: string; data: unknown }): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // Proxies such as nginx buffer responses unless told not to.
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    res.write(frame(first.event, first.data));
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    // Comments keep idle connections from being cut by proxies and load balancers.
    this.heartbeat ??= setInterval(() => this.writeAll(': ping\n\n'), 15_000).unref();
  }

  send(event: string, data: unknown): void {
    if (this.clients.size > 0) this.writeAll(frame(event, data));
  }

  get size(): number {
    return this.clients.size;
  }

  /** Ends every stream; browsers reconnect on their own, to whatever serves the port next. */
  close(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private writeAll(text: string): void {
    for (const res of this.clients) res.write(text);
  }
}

/** JSON never contains a raw newline, so one data line per event is enough. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
