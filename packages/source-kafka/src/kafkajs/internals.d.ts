// kafkajs internals this package reaches into (kafkajs is pinned to 2.2.4); see timer-fix.ts.
declare module 'kafkajs/src/network/requestQueue/index.js' {
  interface RequestQueueInternals {
    throttledUntil: number;
    throttleCheckTimeoutId: NodeJS.Timeout | null;
    pending: unknown[];
    checkPendingRequests(): void;
    scheduleCheckPendingRequests(): void;
  }
  const RequestQueue: { prototype: RequestQueueInternals };
  export default RequestQueue;
}

declare module 'kafkajs/src/broker/index.js' {
  interface BrokerInternals {
    fetch(...args: unknown[]): Promise<unknown>;
  }
  const Broker: { prototype: BrokerInternals };
  export default Broker;
}
