export { createDashboard, type Dashboard, type DashboardOptions } from './dashboard.js';
export { serveDashboard, type ServeDashboardOptions, type ServedDashboard } from './serve.js';
export { formatStatusLine, type StatusLineOptions } from './status-line.js';
export type { BatchRow, BatchStatus, DashboardMeta, DashboardSnapshot } from './state.js';
export { GroupTracker, formatGroupStatus, type GroupView, type TaskRow } from './group-state.js';
