"""The page people use: a key, the tables, a SQL box, the result a page at a time, and a table's quality history
drawn as one chart per metric (values, the band each partition is judged by, outliers in red).

It talks to the same /v1 API as any client. Values are put in the page as text (textContent), never as markup,
and control characters are shown as escapes, as the CLI does; the Content-Security-Policy forbids inline script
anyway. The key stays in this tab's sessionStorage. Kept here as strings rather than files so a non-editable
install serves the page without package data.
"""

INDEX = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lakehouse query</title>
<link rel="stylesheet" href="/ui/app.css">
</head>
<body>
<header>
  <h1>lakehouse query</h1>
  <form id="key-form" autocomplete="off">
    <input id="key" type="password" placeholder="API key (lhk_...)" aria-label="API key">
    <button type="submit">Use key</button>
  </form>
  <span id="who"></span>
</header>
<main>
  <aside>
    <h2>Tables</h2>
    <ul id="tables"><li class="hint">Enter an API key to list the tables.</li></ul>
  </aside>
  <section>
    <form id="query-form">
      <textarea id="sql" rows="6" spellcheck="false" aria-label="SQL"
        placeholder="SELECT region, sum(revenue_usd) FROM gold.daily_sales_summary WHERE dt = '2024-06-03' GROUP BY 1"></textarea>
      <div class="bar">
        <button id="run" type="submit">Run</button>
        <label>rows per page
          <select id="page-size"><option>25</option><option selected>50</option><option>100</option><option>500</option></select>
        </label>
      </div>
    </form>
    <p id="status" role="status"></p>
    <div class="grid"><table id="grid"><thead></thead><tbody></tbody></table></div>
    <nav id="pager">
      <button id="prev" type="button" disabled>Previous</button>
      <span id="range"></span>
      <button id="next" type="button" disabled>Next</button>
    </nav>
    <h2>Quality</h2>
    <form id="quality-form" class="bar">
      <select id="quality-table" aria-label="table"></select>
      <input id="quality-metric" value="rows" aria-label="metric pattern" placeholder="metric pattern, e.g. null_fraction.*">
      <label>partitions <select id="quality-days"><option>14</option><option selected>28</option><option>56</option></select></label>
      <button type="submit">Plot</button>
    </form>
    <p id="quality-status" role="status"></p>
    <div id="quality-plots"></div>
  </section>
</main>
<script src="/ui/app.js"></script>
</body>
</html>
"""

SCRIPT = r""""use strict";
const $ = (id) => document.getElementById(id);
const UNPRINTABLE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
let key = sessionStorage.getItem("lakehouse.key") || "";
let pages = [];  // the pages of the current result seen so far; the last one is shown

function printable(value) {
  if (value === null || value === undefined) return "NULL";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.replace(UNPRINTABLE, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function api(method, path, body) {
  const headers = {"Authorization": "Bearer " + key, "Accept": "application/json"};
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {method, headers, body: body ? JSON.stringify(body) : undefined});
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const message = data && data.message ? data.message : "HTTP " + response.status;
    throw new Error(message);
  }
  return data;
}

async function loadTables() {
  const list = $("tables");
  try {
    const data = await api("GET", "/v1/tables");
    list.replaceChildren();
    for (const table of data.tables) {
      const item = element("li");
      const button = element("button", table.table, table.readable ? "table" : "table locked");
      button.type = "button";
      button.title = table.readable ? table.partitions + " partitions" : "this key cannot read it (needs the raw scope)";
      button.addEventListener("click", () => {
        const last = table.last_partition ? " WHERE dt = '" + table.last_partition + "'" : "";
        $("sql").value = "SELECT * FROM " + table.table + last + " LIMIT 100";
      });
      item.append(button);
      list.append(item);
    }
    status(data.tables.length + " tables");
    const choices = data.tables.filter((t) => ["bronze", "silver", "gold"].includes(t.database));
    $("quality-table").replaceChildren(...choices.map((t) => element("option", t.table)));
    const gold = choices.find((t) => t.database === "gold");
    if (gold) $("quality-table").value = gold.table;
  } catch (error) {
    list.replaceChildren(element("li", error.message, "error"));
  }
}

function show(page) {
  const head = $("grid").tHead, body = $("grid").tBodies[0];
  const header = element("tr");
  for (const column of page.columns) {
    const cell = element("th", printable(column.name));
    cell.title = column.type;
    header.append(cell);
  }
  head.replaceChildren(header);
  const rows = page.rows.map((values) => {
    const row = element("tr");
    values.forEach((value) => row.append(element("td", printable(value), value === null ? "null" : undefined)));
    return row;
  });
  body.replaceChildren(...rows);
  const first = page.rows.length ? page.offset + 1 : 0;
  const last = page.offset + page.rows.length;
  $("range").textContent = "rows " + first + "\u2013" + last + " of " + page.total_rows + (page.truncated ? " (truncated)" : "");
  $("prev").disabled = pages.length < 2;
  $("next").disabled = !page.next_cursor;
}

async function run(event) {
  event.preventDefault();
  status("running\u2026");
  $("run").disabled = true;
  try {
    const page = await api("POST", "/v1/query", {sql: $("sql").value, page_size: Number($("page-size").value)});
    pages = [page];
    show(page);
    status("done in " + page.elapsed_ms + " ms");
  } catch (error) {
    status(error.message, true);
  } finally {
    $("run").disabled = false;
  }
}

async function next() {
  const current = pages[pages.length - 1];
  if (!current || !current.next_cursor) return;
  try {
    const page = await api("GET", "/v1/results/" + encodeURIComponent(current.next_cursor));
    pages.push(page);
    show(page);
  } catch (error) {
    status(error.message, true);
  }
}

function previous() {
  if (pages.length < 2) return;
  pages.pop();
  show(pages[pages.length - 1]);
}

function showKey() {
  const id = key.split("_")[1];  // a key's id is not secret; its last part is
  $("who").textContent = id ? "key " + id : "";
}

// One chart per metric: a grey bar per partition for the band it is judged by, the values as a line, outliers red.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 720, HEIGHT = 170, LEFT = 70, RIGHT = 10, TOP = 10, BOTTOM = 24;

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function number(value) {
  return value === null ? "-" : Math.abs(value) >= 1000 || Number.isInteger(value)
    ? value.toLocaleString("en-US", {maximumFractionDigits: 0}) : value.toPrecision(4);
}

function chart(metric) {
  const points = metric.points;
  const shown = points.flatMap((p) => [p.value, p.low, p.high]).filter((v) => v !== null);
  const low = Math.min(0, ...shown), high = Math.max(...shown);
  const step = (WIDTH - LEFT - RIGHT) / Math.max(points.length, 1);
  const x = (i) => LEFT + step * (i + 0.5);
  const y = (v) => TOP + (HEIGHT - TOP - BOTTOM) * (high > low ? (high - v) / (high - low) : 0.5);
  const plot = svg("svg", {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, class: "chart",
                           role: "img", "aria-label": metric.metric});
  plot.append(svg("line", {x1: LEFT, x2: WIDTH - RIGHT, y1: y(low), y2: y(low), class: "axis"}));
  plot.append(svg("text", {x: LEFT - 6, y: y(high) + 4, class: "tick", "text-anchor": "end"}, number(high)));
  plot.append(svg("text", {x: LEFT - 6, y: y(low), class: "tick", "text-anchor": "end"}, number(low)));
  points.forEach((p, i) => {
    if (p.low !== null && p.high !== null) {
      plot.append(svg("rect", {x: x(i) - step * 0.4, width: step * 0.8, y: y(p.high),
                               height: Math.max(y(p.low) - y(p.high), 1), class: "band"}));
    }
  });
  let line = [];
  const flush = () => { if (line.length > 1) plot.append(svg("polyline", {points: line.join(" "), class: "value"})); line = []; };
  points.forEach((p, i) => { if (p.value === null) flush(); else line.push(`${x(i)},${y(p.value)}`); });
  flush();
  points.forEach((p, i) => {
    if (p.value === null) return;
    const dot = svg("circle", {cx: x(i), cy: y(p.value), r: p.outlier ? 4.5 : 3, class: p.outlier ? "point outlier" : "point"});
    const band = p.low === null ? "history too short to judge" : `band ${number(p.low)}..${number(p.high)}`;
    dot.append(svg("title", {}, `${p.dt}: ${number(p.value)} (${band})`));
    dot.dataset.dt = p.dt;
    plot.append(dot);
  });
  [0, points.length - 1].filter((i, n, all) => i >= 0 && all.indexOf(i) === n).forEach((i) => {
    plot.append(svg("text", {x: x(i), y: HEIGHT - 6, class: "tick", "text-anchor": i ? "end" : "start"}, points[i].dt));
  });
  const figure = element("figure");
  const outliers = points.filter((p) => p.outlier).map((p) => p.dt);
  figure.append(element("figcaption", printable(metric.metric) + " — check: " + metric.level +
                        (outliers.length ? " — outside the band: " + outliers.join(", ") : "")), plot);
  return figure;
}

async function plotQuality(event) {
  event.preventDefault();
  const table = $("quality-table").value;
  if (!table) return;
  const query = new URLSearchParams({days: $("quality-days").value});
  if ($("quality-metric").value.trim()) query.set("metric", $("quality-metric").value.trim());
  $("quality-status").textContent = "loading…";
  $("quality-status").className = "";
  try {
    const data = await api("GET", "/v1/tables/" + encodeURIComponent(table) + "/quality?" + query);
    const metrics = data.metrics.filter((m) => m.points.some((p) => p.value !== null)).slice(0, 12);
    $("quality-plots").replaceChildren(...metrics.map(chart));
    $("quality-status").textContent = metrics.length
      ? data.table + ": " + metrics.length + " metrics; band: " + data.baseline
      : "no metrics recorded for " + data.table + " yet";
  } catch (error) {
    $("quality-plots").replaceChildren();
    $("quality-status").textContent = error.message;
    $("quality-status").className = "error";
  }
}

$("quality-form").addEventListener("submit", plotQuality);
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  key = $("key").value.trim();
  sessionStorage.setItem("lakehouse.key", key);
  $("key").value = "";
  showKey();
  loadTables();
});
$("query-form").addEventListener("submit", run);
$("next").addEventListener("click", next);
$("prev").addEventListener("click", previous);
showKey();
if (key) loadTables();
"""

STYLE = """body { font: 14px system-ui, sans-serif; margin: 0; color: #1d1d1f; }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1rem; background: #16324f; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
header input { width: 22rem; }
#who { font: 12px ui-monospace, monospace; opacity: .8; }
main { display: grid; grid-template-columns: 16rem 1fr; min-height: calc(100vh - 3rem); }
aside { border-right: 1px solid #ddd; padding: .5rem 1rem; overflow-y: auto; max-height: calc(100vh - 4rem); }
aside h2 { font-size: 1rem; }
aside ul { list-style: none; padding: 0; margin: 0; }
button.table { background: none; border: none; padding: .15rem 0; cursor: pointer; color: #0b5cad; font: inherit; }
button.table.locked { color: #888; }
section { padding: .5rem 1rem; overflow-x: auto; }
textarea { width: 100%; font: 13px ui-monospace, monospace; box-sizing: border-box; }
.bar { display: flex; gap: 1rem; align-items: center; margin: .4rem 0; }
.error { color: #b00020; }
.hint { color: #666; }
table { border-collapse: collapse; font: 13px ui-monospace, monospace; }
th, td { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; white-space: pre; }
th { background: #f3f5f8; }
td.null { color: #999; font-style: italic; }
nav { display: flex; gap: 1rem; align-items: center; margin: .6rem 0; }
section h2 { font-size: 1rem; margin-top: 1.5rem; }
figure { margin: .8rem 0; }
figcaption { font: 13px ui-monospace, monospace; }
svg.chart .axis { stroke: #999; }
svg.chart .tick { font: 11px ui-monospace, monospace; fill: #555; }
svg.chart .band { fill: #dde6f0; }
svg.chart .value { fill: none; stroke: #0b5cad; stroke-width: 1.5; }
svg.chart .point { fill: #0b5cad; }
svg.chart .point.outlier { fill: #b00020; }
"""
