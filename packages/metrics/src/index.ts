export { createPrometheusMetrics, DEFAULT_BUCKETS, type PrometheusMetrics, type PrometheusMetricsOptions } from './prometheus.js';
export { metricsHandler } from './handler.js';
/** prom-client's Registry, re-exported so packages that take one need no direct prom-client dependency. */
export type { Registry } from 'prom-client';
