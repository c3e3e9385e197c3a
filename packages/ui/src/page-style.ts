/** The page's CSS: light by default, dark when the system asks for it. */
export const STYLES = `
:root { --bg: #f6f7f9; --card: #fff; --text: #1d2430; --muted: #6b7585; --line: #e3e6eb; --accent: #2f6fde;
  --ok: #1f8a4c; --warn: #b7791f; --bad: #c53030; --run: #2f6fde; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --bg: #12161c; --card: #1b2129; --text: #e6e9ee; --muted: #8d97a6; --line: #2b333e; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 20px 32px; background: var(--bg); color: var(--text); font-size: 14px; }
header { display: flex; align-items: center; gap: 12px; }
h1 { font-size: 20px; margin: 0; font-weight: 600; }
h1 .brand { color: var(--muted); font-weight: 400; }
h2 { font-size: 13px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 10px 0 14px; color: var(--muted); }
.facts b { color: var(--text); font-weight: 600; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: var(--line); color: var(--text); }
.badge[data-status=active], .badge[data-status=completed] { background: color-mix(in srgb, var(--ok) 18%, transparent); color: var(--ok); }
.badge[data-status=running], .badge[data-status=queued] { background: color-mix(in srgb, var(--run) 18%, transparent); color: var(--run); }
.badge[data-status=retrying], .badge[data-status=stopping] { background: color-mix(in srgb, var(--warn) 20%, transparent); color: var(--warn); }
.badge[data-status=failed] { background: color-mix(in srgb, var(--bad) 18%, transparent); color: var(--bad); }
.connection { margin-left: auto; font-size: 12px; color: var(--muted); }
.connection[data-connected=true]::before { content: "●"; color: var(--ok); margin-right: 4px; }
.connection[data-connected=false]::before { content: "●"; color: var(--bad); margin-right: 4px; }
.stop-error { background: color-mix(in srgb, var(--bad) 12%, var(--card)); border: 1px solid var(--bad); color: var(--bad); padding: 8px 12px; border-radius: 6px; margin-bottom: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin-bottom: 14px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(250px, 1fr)); gap: 14px; margin-bottom: 0; }
.card-head { display: flex; align-items: baseline; gap: 8px; }
.card-head .unit { color: var(--muted); font-size: 12px; }
.card-head .latest { margin-left: auto; font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
svg { display: block; width: 100%; height: 140px; overflow: visible; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .area { fill: color-mix(in srgb, var(--accent) 14%, transparent); stroke: none; }
svg .ref { stroke: var(--warn); stroke-dasharray: 4 4; stroke-width: 1; }
svg .fail { stroke: var(--bad); stroke-width: 2; }
.axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 12px; margin-top: 4px; }
.axis b { color: var(--text); font-weight: 600; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 14px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
.tag { display: inline-block; border: 1px solid var(--line); border-radius: 4px; padding: 0 6px; margin: 0 4px 4px 0; font-family: ui-monospace, monospace; font-size: 12px; }
.tag small { color: var(--muted); font-family: system-ui, sans-serif; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 1px solid var(--line); padding: 4px 8px; }
td { padding: 4px 8px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; vertical-align: top; }
.num { text-align: right; }
td.error { color: var(--bad); font-family: ui-monospace, monospace; font-size: 12px; word-break: break-word; }
tr[data-status=failed] td:first-child { box-shadow: inset 3px 0 var(--bad); }
tr[data-status=retrying] td:first-child { box-shadow: inset 3px 0 var(--warn); }
.muted { color: var(--muted); font-weight: 400; text-transform: none; letter-spacing: 0; }
`;
