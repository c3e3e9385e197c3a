import { CLIENT_SCRIPT } from './page-script.js';
import { STYLES } from './page-style.js';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The four charts of Spark's Streaming tab: id, title, unit. */
const CHARTS = [
  ['inputRate', 'Input rate', 'records/s'],
  ['schedulingDelay', 'Scheduling delay', 'ms'],
  ['processingDelay', 'Processing time', 'ms'],
  ['totalDelay', 'Total delay', 'ms'],
] as const;

/**
 * The whole page: HTML, inline CSS and inline JS, no external resources and no build step. The
 * script renders from the `/events` stream (a snapshot first, then batch and meta updates).
 */
export function renderPage(appId: string): string {
  const charts = CHARTS.map(
    ([id, title, unit]) => `
      <div class="card chart">
        <div class="card-head"><h2>${title}</h2><span class="unit">${unit}</span><span class="latest" id="latest-${id}">–</span></div>
        <svg id="chart-${id}" data-points="0" viewBox="0 0 600 140" preserveAspectRatio="none" role="img" aria-label="${title} over recent batches"></svg>
        <div class="axis"><span id="range-${id}"></span><span>avg <b id="avg-${id}">–</b> · max <b id="max-${id}">–</b></span></div>
      </div>`,
  ).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(appId)} · microbatch</title>
<style>${STYLES}</style>
</head>
<body>
<header>
  <h1><span class="brand">microbatch</span> <span id="app-id">${escapeHtml(appId)}</span></h1>
  <span id="status" class="badge" data-status="">connecting</span>
  <span id="connection" class="connection" data-connected="false">offline</span>
</header>
<div class="facts">
  <span>epoch <b id="epoch">–</b></span>
  <span>batch interval <b id="interval">–</b></span>
  <span>started <b id="started">–</b></span>
  <span>completed batches <b id="completed">0</b></span>
  <span>failed attempts <b id="failed-attempts">0</b></span>
  <span>records <b id="records">0</b></span>
  <span>rejected <b id="rejected-total">0</b></span>
  <span>last checkpoint <b id="checkpoint">–</b></span>
</div>
<div id="stop-error" class="stop-error" hidden></div>
<section class="charts">${charts}
</section>
<section class="columns">
  <div class="card">
    <h2>Application</h2>
    <dl id="app">
      <dt>Sources</dt><dd id="app-sources">–</dd>
      <dt>Stateful operators</dt><dd id="app-operators">–</dd>
      <dt>Outputs</dt><dd id="app-outputs">–</dd>
      <dt>Checkpoint store</dt><dd id="app-checkpoint">–</dd>
    </dl>
  </div>
  <div class="card">
    <h2>Lag per partition</h2>
    <table id="lag"><thead><tr><th>Source</th><th>Partition</th><th class="num">Lag (records)</th></tr></thead><tbody></tbody></table>
    <p id="lag-empty" class="muted">No lag measured yet.</p>
    <div id="rejected-box" hidden>
      <h2>Rejected records</h2>
      <table id="rejected"><thead><tr><th>Source</th><th>Reason</th><th>Action</th><th class="num">Records</th></tr></thead><tbody></tbody></table>
    </div>
  </div>
</section>
<section class="card">
  <h2>Recent batches <span class="muted" id="batches-count"></span></h2>
  <table id="batches">
    <thead><tr><th>Batch time</th><th class="num">Records</th><th class="num">Scheduling delay</th><th class="num">Processing time</th><th class="num">Total delay</th><th class="num">Attempt</th><th>Status</th><th>Error</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
