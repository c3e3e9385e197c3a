/**
 * A kafkajs client (admin, bare cluster) made and connected on first use and shared by the
 * callers that come while it connects; a failed connect is forgotten, so the next `get` tries
 * again. `close` disconnects it; a `get` after that connects a new one.
 */
export class LazyConnection<C extends { connect(): Promise<void>; disconnect(): Promise<void> }> {
  private connected: Promise<C> | undefined;

  constructor(private readonly create: () => C) {}

  /** Whether a connect was started (and has not failed). */
  get started(): boolean {
    return this.connected !== undefined;
  }

  get(): Promise<C> {
    if (!this.connected) {
      const client = this.create();
      this.connected = client.connect().then(
        () => client,
        (error: unknown) => {
          this.connected = undefined;
          throw error;
        },
      );
    }
    return this.connected;
  }

  async close(): Promise<void> {
    const connected = this.connected;
    this.connected = undefined;
    await connected?.then((c) => c.disconnect(), () => {});
  }
}
