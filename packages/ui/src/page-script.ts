/**
 * The page's script, sent inline. Plain ES2017 with no template literals (it lives inside one).
 * It keeps the snapshot from `/events`, applies `batch` and `meta` events to it, and re-renders
 * at most every 50 ms. Text from the server is set with textContent, never parsed as HTML.
 */
export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var state = null;
  var pending = false;
  var SERIES = ['inputRate', 'schedulingDelay', 'processingDelay', 'totalDelay'];
  var numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  var $ = function (id) { return document.getElementById(id); };

  function pad(n, width) { var s = String(n); while (s.length < width) s = '0' + s; return s; }
  function clock(t) {
    var d = new Date(t);
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' + pad(d.getMilliseconds(), 3);
  }
  function ms(v) {
    if (v === undefined || v === null) return '–';
    return v < 10000 ? numberFormat.format(v) + ' ms' : (v / 1000).toFixed(1) + ' s';
  }
  function valueText(series, v) {
    if (v === undefined || v === null) return '–';
    return series === 'inputRate' ? numberFormat.format(v) + '/s' : ms(v);
  }

  function schedule() {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; render(); }, 50);
  }

  function upsertBatch(row) {
    var batches = state.batches;
    for (var i = batches.length - 1; i >= 0; i--) {
      if (batches[i].batchTime === row.batchTime) { batches[i] = row; return; }
      if (batches[i].batchTime < row.batchTime) break;
    }
    batches.splice(i + 1, 0, row);
    if (batches.length > state.historySize) batches.splice(0, batches.length - state.historySize);
  }

  function connect() {
    var source = new EventSource('events');
    source.addEventListener('snapshot', function (e) { state = JSON.parse(e.data); schedule(); });
    source.addEventListener('batch', function (e) { if (state) { upsertBatch(JSON.parse(e.data)); schedule(); } });
    source.addEventListener('meta', function (e) {
      if (!state) return;
      var meta = JSON.parse(e.data);
      for (var key in meta) state[key] = meta[key];
      // Absent optional fields mean "cleared" (e.g. stopError after a restart).
      if (!('stopError' in meta)) delete state.stopError;
      schedule();
    });
    source.onopen = function () { setConnected(true); };
    source.onerror = function () { setConnected(false); };
  }

  function setConnected(on) {
    var el = $('connection');
    el.dataset.connected = String(on);
    el.textContent = on ? 'live' : 'reconnecting';
  }

  function render() {
    if (!state) return;
    renderFacts();
    for (var i = 0; i < SERIES.length; i++) renderChart(SERIES[i]);
    renderApp();
    renderLag();
    renderBatches();
  }

  function renderFacts() {
    var status = $('status');
    status.dataset.status = state.status;
    status.textContent = state.status;
    $('epoch').textContent = state.epoch === undefined ? '–' : String(state.epoch);
    $('interval').textContent = ms(state.app.batchIntervalMs);
    $('started').textContent = state.startedAt ? clock(state.startedAt) : '–';
    $('completed').textContent = numberFormat.format(state.totals.completed);
    $('failed-attempts').textContent = numberFormat.format(state.totals.failedAttempts);
    $('records').textContent = numberFormat.format(state.totals.records);
    $('rejected-total').textContent = numberFormat.format(state.totals.rejected);
    var cp = state.lastCheckpoint;
    $('checkpoint').textContent = cp ? '#' + cp.seq + ' in ' + ms(Math.round(cp.durationMs)) : '–';
    var stop = $('stop-error');
    stop.hidden = !state.stopError;
    stop.textContent = state.stopError ? 'Stopped on an error: ' + state.stopError : '';
  }

  function renderChart(series) {
    var svg = $('chart-' + series);
    var done = state.batches.filter(function (b) { return b.status === 'completed' && b[series] !== undefined; });
    var values = done.map(function (b) { return b[series]; });
    var W = 600, H = 140, TOP = 10;
    var reference = series === 'processingDelay' ? state.app.batchIntervalMs : 0;
    var max = Math.max(1, reference, Math.max.apply(null, values.concat([0])));
    var n = state.batches.length;
    var xOf = function (index) { return n <= 1 ? W : (index / (n - 1)) * W; };
    var yOf = function (v) { return H - (v / max) * (H - TOP); };
    var indexOf = {};
    state.batches.forEach(function (b, i) { indexOf[b.batchTime] = i; });
    var points = done.map(function (b) { return xOf(indexOf[b.batchTime]).toFixed(1) + ',' + yOf(b[series]).toFixed(1); });
    var parts = [];
    [0, 0.5, 1].forEach(function (f) { var y = yOf(max * f).toFixed(1); parts.push('<line class="grid" x1="0" x2="' + W + '" y1="' + y + '" y2="' + y + '" vector-effect="non-scaling-stroke"/>'); });
    if (reference) { var ry = yOf(reference).toFixed(1); parts.push('<line class="ref" x1="0" x2="' + W + '" y1="' + ry + '" y2="' + ry + '" vector-effect="non-scaling-stroke"><title>batch interval</title></line>'); }
    if (points.length > 0) {
      var first = points[0].split(',')[0], last = points[points.length - 1].split(',')[0];
      parts.push('<polygon class="area" points="' + first + ',' + H + ' ' + points.join(' ') + ' ' + last + ',' + H + '"/>');
      parts.push('<polyline class="line" points="' + points.join(' ') + '" vector-effect="non-scaling-stroke"/>');
    }
    state.batches.forEach(function (b, i) {
      if (b.status === 'failed' || b.status === 'retrying' || b.error) {
        var x = xOf(i).toFixed(1);
        parts.push('<line class="fail" x1="' + x + '" x2="' + x + '" y1="' + (H - 12) + '" y2="' + H + '" vector-effect="non-scaling-stroke"><title>failed attempt</title></line>');
      }
    });
    svg.innerHTML = parts.join('');
    svg.dataset.points = String(values.length);
    svg.dataset.latest = values.length ? String(values[values.length - 1]) : '';
    var sum = values.reduce(function (a, b) { return a + b; }, 0);
    $('latest-' + series).textContent = values.length ? valueText(series, values[values.length - 1]) : '–';
    $('avg-' + series).textContent = values.length ? valueText(series, sum / values.length) : '–';
    $('max-' + series).textContent = values.length ? valueText(series, Math.max.apply(null, values)) : '–';
    $('range-' + series).textContent = n ? 'last ' + n + ' batches' : 'no batches yet';
  }

  function tags(el, items) {
    el.textContent = '';
    if (items.length === 0) { el.textContent = 'none'; return; }
    items.forEach(function (item) {
      var tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = item.name;
      if (item.note) { var small = document.createElement('small'); small.textContent = ' ' + item.note; tag.appendChild(small); }
      el.appendChild(tag);
    });
  }

  function renderApp() {
    var app = state.app;
    tags($('app-sources'), app.sources.map(function (name) { return { name: name }; }));
    tags($('app-operators'), app.operators.map(function (name) { return { name: name }; }));
    tags($('app-outputs'), app.outputs.map(function (o) { return { name: o.name, note: o.guarantee ? o.guarantee + ' sink' : 'foreachBatch' }; }));
    tags($('app-checkpoint'), [{ name: app.checkpointStore }]);
  }

  function fillRows(tbody, rows) {
    tbody.textContent = '';
    rows.forEach(function (cells) {
      var tr = document.createElement('tr');
      cells.forEach(function (cell) {
        var td = document.createElement('td');
        td.textContent = cell.text;
        if (cell.className) td.className = cell.className;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  function renderLag() {
    var rows = [];
    Object.keys(state.lag).sort().forEach(function (source) {
      var partitions = state.lag[source];
      Object.keys(partitions).sort(function (a, b) { return Number(a) - Number(b) || (a < b ? -1 : 1); }).forEach(function (p) {
        rows.push([{ text: source }, { text: p }, { text: numberFormat.format(partitions[p]), className: 'num' }]);
      });
    });
    fillRows(document.querySelector('#lag tbody'), rows);
    $('lag-empty').hidden = rows.length > 0;
    $('rejected-box').hidden = state.rejected.length === 0;
    fillRows(document.querySelector('#rejected tbody'), state.rejected.map(function (r) {
      return [{ text: r.source }, { text: r.reason }, { text: r.action }, { text: numberFormat.format(r.count), className: 'num' }];
    }));
  }

  function renderBatches() {
    var tbody = document.querySelector('#batches tbody');
    tbody.textContent = '';
    var recent = state.batches.slice(-100).reverse();
    recent.forEach(function (b) {
      var tr = document.createElement('tr');
      tr.dataset.batchTime = String(b.batchTime);
      tr.dataset.status = b.status;
      var cells = [
        clock(b.batchTime) + (b.replay ? ' (replay)' : ''),
        numberFormat.format(b.numRecords),
        ms(b.schedulingDelay),
        ms(b.processingDelay),
        ms(b.totalDelay),
        String(b.attempt),
      ];
      var classes = ['', 'num', 'num', 'num', 'num', 'num attempt'];
      cells.forEach(function (text, i) {
        var td = document.createElement('td');
        td.textContent = text;
        if (classes[i]) td.className = classes[i];
        tr.appendChild(td);
      });
      var statusCell = document.createElement('td');
      var badge = document.createElement('span');
      badge.className = 'badge status';
      badge.dataset.status = b.status;
      badge.textContent = b.status;
      statusCell.appendChild(badge);
      tr.appendChild(statusCell);
      var errorCell = document.createElement('td');
      errorCell.className = 'error';
      errorCell.textContent = b.error || '';
      tr.appendChild(errorCell);
      tbody.appendChild(tr);
    });
    $('batches-count').textContent = state.batches.length ? '(' + recent.length + ' of ' + state.batches.length + ' kept)' : '';
  }

  connect();
})();
`;
