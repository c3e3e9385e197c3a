import RequestQueue from 'kafkajs/src/network/requestQueue/index.js';

// kafkajs' own retry interval for a queue that has pending requests but is not throttled.
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

let applied = false;

/**
 * kafkajs 2.2.4 schedules its pending-request check with `setTimeout(check, throttledUntil - now)`
 * after every response, and `throttledUntil` stays -1 until a broker throttles the client: a
 * negative delay, which Node 24 reports as a `TimeoutNegativeWarning` on stderr on every start
 * (kafkajs issue #1751; the fixes, PRs #1755/#1756, are unreleased). Node already ran such a
 * timer after 1 ms, so clamping the delay to 1 ms keeps kafkajs' behaviour exactly and only drops
 * the warning; no warning is filtered. Done once, on the first reader (the package has no import
 * side effects), and only while kafkajs' method still has the negative subtraction, so a kafkajs
 * that fixed it keeps its own.
 */
export function fixKafkajsNegativeTimeout(): void {
  if (applied) return;
  applied = true;
  const proto = RequestQueue.prototype;
  if (!String(proto.scheduleCheckPendingRequests).includes('this.throttledUntil - Date.now()')) return;
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests() {
    if (this.throttleCheckTimeoutId) return;
    let delay = this.throttledUntil - Date.now();
    if (this.pending.length > 0 && delay <= 0) delay = CHECK_PENDING_REQUESTS_INTERVAL;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, Math.max(1, delay));
  };
}
