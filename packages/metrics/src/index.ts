export { createPrometheusMetrics, DEFAULT_BUCKETS, type PrometheusMetrics, type PrometheusMetricsOptions } from './prometheus.js';
export { metricsHandler } from './handler.js';
