"""The page people use: a key, the tables, a SQL box, and the result a page at a time.

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
"""
