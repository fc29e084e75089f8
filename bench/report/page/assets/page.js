// concbench's results page: filters the embedded data (bench/report/page/data.py) and draws it with plotly.js.
// Rules this script keeps: every figure, interval, verdict and sentence comes from the data as bench/report/page/
// computed it; this script selects rows, draws them and formats numbers, nothing more. The view lives in
// the address's fragment (#run=…&metric=…), written on every change and read on load and on hashchange.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const $ = (id) => document.getElementById(id);
  const RUNS = new Map(DATA.runs.map((run) => [run.id, run]));
  const METRICS = new Map(DATA.metrics.map((m) => [m.id, m]));
  const FACETS = DATA.facets;
  const PREFERRED = {
    workload: ["latency", "claim", "throughput", "payload", "c10k", "web", "slow-link"],
    policy: ["keepalive", "close"],
    profile: ["tuned", "as-written"],
  };
  const state = { hidden: new Set(), facets: {} };

  // --- formatting (bench.report.sections.markdown.fmt's rule: thousands separators from 100 on, else 3 digits)
  function fmt(value) {
    if (value === null || value === undefined) return "-";
    if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
    return String(Number(value.toPrecision(3)));
  }
  function show(value, metric) {
    if (value === null || value === undefined) return "-";
    return metric === "efficiency" ? `${Math.round(value * 100)}%` : fmt(value);
  }
  function ordered(values, preferred) {
    const rank = (v) => (preferred.includes(v) ? preferred.indexOf(v) : preferred.length);
    return [...new Set(values)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "html") node.innerHTML = value;  // only HTML that bench/report/page/markup.py rendered (markdown-it, no raw HTML)
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  // --- the view
  const run = () => RUNS.get(state.run);
  function strategyKey(name) {
    const [base, era] = name.split("@");
    const style = DATA.styles[name] || {};
    const row = run().rows.find((r) => r.s === name);
    const model = row ? row.model : "other";
    const order = DATA.strategyOrder.indexOf(base);
    return [DATA.models.indexOf(model), order < 0 ? 999 : order, era || "", style.era || ""];
  }
  function compareKeys(a, b) {
    const ka = strategyKey(a), kb = strategyKey(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return 0;
  }
  function inView(row) {
    if (row.w !== state.workload || row.pr !== state.profile || row.po !== state.policy) return false;
    if (state.hidden.has(row.s)) return false;
    return Object.entries(row.facets).every(([name, value]) => !state.facets[name] || state.facets[name].has(value));
  }
  function viewRows() {
    return run().rows.map((row, index) => ({ row, index })).filter(({ row }) => inView(row));
  }
  function cellKey(level) {
    // An HTTPS cell's id ends in "|https" (data.py's _cell_id): its table when only https rows are shown.
    const https = state.facets.scheme && !state.facets.scheme.has("http") ? "|https" : "";
    return [state.workload, state.profile, state.policy, level].join("|") + https;
  }
  // A row's line: its strategy, and for an HTTPS row (the scheme facet) a line of its own beside its HTTP one.
  const lineName = (row) => row.s + (row.facets.scheme === "https" ? " · https" : "");

  // --- controls
  // Controls are rebuilt only when their options change, so the one in use keeps the keyboard's focus.
  function unchanged(node, options) {
    const signature = JSON.stringify(options);
    if (node.dataset.options === signature) return true;
    node.dataset.options = signature;
    return false;
  }
  function fillSelect(select, options, value) {
    if (!unchanged(select, options)) {
      select.replaceChildren(...options.map(([v, label]) => el("option", { value: v, text: label })));
    }
    select.value = options.some(([v]) => v === value) ? value : (options[0] || [""])[0];
    return select.value;
  }
  function fillRadios(fieldset, name, options, value) {
    const chosen = options.includes(value) ? value : options[0];
    if (unchanged(fieldset, options)) {
      fieldset.querySelectorAll("input").forEach((input) => { input.checked = input.value === chosen; });
      return chosen;
    }
    fieldset.querySelectorAll("label").forEach((node) => node.remove());
    for (const option of options) {
      const input = el("input", { type: "radio", name, value: option, id: `${name}-${option}` });
      input.checked = option === chosen;
      input.addEventListener("change", () => { state[name] = option; update(); });
      fieldset.append(el("label", { for: input.id }, input, ` ${option}`));
    }
    return chosen;
  }
  function values(key, filter) {
    return run().rows.filter(filter || (() => true)).map((row) => row[key]);
  }
  function fillControls() {
    state.run = fillSelect($("run"), DATA.runs.map((r) => [r.id, r.label]), state.run);
    state.workload = fillSelect($("workload"), ordered(values("w"), PREFERRED.workload).map((w) => [w, w]), state.workload);
    const ofWorkload = (row) => row.w === state.workload;
    state.profile = fillRadios($("profile"), "profile", ordered(values("pr", ofWorkload), PREFERRED.profile), state.profile);
    state.policy = fillRadios($("policy"), "policy",
      ordered(values("po", (row) => ofWorkload(row) && row.pr === state.profile), PREFERRED.policy), state.policy);
    state.metric = fillSelect($("metric"), DATA.metrics.map((m) => [m.id, m.label]), state.metric || "rps");
    const others = DATA.runs.filter((r) => DATA.compare[`${state.run}>${r.id}`]).map((r) => [r.id, r.label]);
    state.compare = fillSelect($("compare"), [["", "none"], ...others], state.compare || "");
    fillFacets();
    fillStrategies();
    fillLevels();
  }
  function fillFacets() {
    const box = $("facets");
    const found = {};
    for (const name of Object.keys(FACETS)) found[name] = [...new Set(run().rows.map((row) => row.facets[name]))];
    if (unchanged(box, found)) return;
    box.replaceChildren();
    for (const [name, legend] of Object.entries(FACETS)) {
      if (found[name].length < 2) { delete state.facets[name]; continue; }
      const kept = state.facets[name] ? found[name].filter((v) => state.facets[name].has(v)) : found[name];
      state.facets[name] = new Set(kept.length ? kept : found[name]);
      const fieldset = el("fieldset", { class: "field", id: `facet-${name}` }, el("legend", { text: legend }));
      found[name].forEach((value, i) => {
        const input = el("input", { type: "checkbox", id: `facet-${name}-${i}`, value });
        input.checked = state.facets[name].has(value);
        input.addEventListener("change", () => {
          if (input.checked) state.facets[name].add(value); else state.facets[name].delete(value);
          update();
        });
        fieldset.append(el("label", { for: input.id }, input, ` ${value}`));
      });
      box.append(fieldset);
    }
  }
  function fillStrategies() {
    const names = [...new Set(run().rows.map((row) => row.s))].sort(compareKeys);
    const groups = new Map();
    for (const name of names) {
      const model = run().rows.find((row) => row.s === name).model;
      if (!groups.has(model)) groups.set(model, []);
      groups.get(model).push(name);
    }
    const box = $("strategy-groups");
    if (unchanged(box, names)) {
      box.querySelectorAll("input").forEach((input) => { input.checked = !state.hidden.has(input.value); });
      return;
    }
    box.replaceChildren();
    for (const [model, members] of groups) {
      const fieldset = el("fieldset", { class: "model" }, el("legend", { text: model }));
      for (const name of members) {
        const style = DATA.styles[name];
        const input = el("input", { type: "checkbox", id: `strategy-${name}`, value: name, "data-strategy": name });
        input.checked = !state.hidden.has(name);
        input.addEventListener("change", () => {
          if (input.checked) state.hidden.delete(name); else state.hidden.add(name);
          update();
        });
        const swatch = el("span", { class: `swatch dash-${style.dash}`, "aria-hidden": "true" });
        swatch.style.borderColor = style.colour;
        fieldset.append(el("label", { for: input.id }, input, swatch, ` ${name}`));
      }
      box.append(fieldset);
    }
  }
  function fillLevels() {
    const levels = [...new Set(viewRows().map(({ row }) => row.c))].sort((a, b) => a - b);
    const wanted = levels.includes(Number(state.level)) ? Number(state.level) : levels[levels.length - 1];
    state.level = fillSelect($("level"), levels.map((c) => [String(c), `C=${c.toLocaleString("en-US")}`]),
      String(wanted));
  }

  // --- the fragment
  function writeFragment() {
    const params = new URLSearchParams();
    for (const key of ["run", "workload", "profile", "policy", "metric"]) params.set(key, state[key]);
    if (state.level) params.set("c", state.level);
    if (state.compare) params.set("compare", state.compare);
    if (state.hidden.size) params.set("hide", [...state.hidden].sort().join(","));
    for (const [name, shown] of Object.entries(state.facets)) {
      const all = new Set(run().rows.map((row) => row.facets[name]));
      if (shown.size < all.size) params.set(name, [...shown].join(","));
    }
    const fragment = `#${params.toString()}`;
    if (location.hash === fragment) return;
    try { history.replaceState(null, "", fragment); } catch (e) { location.replace(fragment); }
  }
  function readFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    state.run = RUNS.has(params.get("run")) ? params.get("run") : DATA.runs[0].id;
    for (const key of ["workload", "profile", "policy", "metric", "compare"]) state[key] = params.get(key) || "";
    state.level = params.get("c") || "";
    state.hidden = new Set((params.get("hide") || "").split(",").filter(Boolean));
    state.facets = {};
    for (const name of Object.keys(FACETS)) {
      if (params.has(name)) state.facets[name] = new Set(params.get(name).split(","));
    }
  }

  // --- the chart
  const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  function pointText(row, metric) {
    const m = row.m[metric];
    const label = METRICS.get(metric).label;
    const lines = [
      `<b>${esc(row.s)}</b> · ${esc(row.model)} / ${esc(row.stack)}, ${row.st}`,
      `${esc(row.w)}, ${esc(row.pr)}, ${esc(row.po)}, C=${row.c}, N=${row.n}`,
      `${label}: ${show(m[0], metric)} (min–max ${show(m[1], metric)}–${show(m[2], metric)})`,
      m[3] === null ? `95 % interval: - (${m[5]} round${m[5] === 1 ? "" : "s"})`
        : `95 % interval [${show(m[3], metric)}, ${show(m[4], metric)}] (geometric mean of ${m[5]} rounds, t on logs)`,
      `${row.rounds} rounds; peak in flight ${row.peak[1] === null ? "-" : row.peak[1]} (rounds' lowest ${row.peak[0] === null ? "-" : row.peak[0]})`,
    ];
    for (const [code, detail] of row.flags) lines.push(`flag ${esc(code)}: ${esc(detail)}`);
    for (const [code, detail] of row.notes) lines.push(`note ${esc(code)}: ${esc(detail)}`);
    lines.push(`bound: ${esc(row.bound || "-")}`);
    return lines.join("<br>");
  }
  function traces(rows, metric) {
    const byName = new Map();
    for (const item of rows) {
      if (!item.row.m || !item.row.m[metric]) continue;
      const line = lineName(item.row);
      if (!byName.has(line)) byName.set(line, []);
      byName.get(line).push(item);
    }
    const levels = [...new Set(rows.map(({ row }) => row.c))].sort((a, b) => a - b);
    const out = [];
    const lines = [...byName.keys()].sort((a, b) => compareKeys(byName.get(a)[0].row.s, byName.get(b)[0].row.s) || (a < b ? -1 : 1));
    for (const name of lines) {
      const points = byName.get(name).sort((a, b) => a.row.c - b.row.c);
      const https = points[0].row.facets.scheme === "https";
      const base = DATA.styles[points[0].row.s];
      const style = https ? { ...base, dash: "dot" } : base;
      const model = points[0].row.model;
      const ys = points.map(({ row }) => row.m[metric][0]);
      out.push({
        type: "scatter", mode: "lines+markers", name, legendgroup: model, legendgrouptitle: { text: model },
        meta: { kind: "row", strategy: points[0].row.s },
        x: points.map(({ row }) => row.c), y: ys, customdata: points.map(({ index }) => index),
        text: points.map(({ row }) => pointText(row, metric)), hovertemplate: "%{text}<extra></extra>",
        line: { color: style.colour, dash: style.dash, width: 1.6 },
        marker: {
          color: style.colour, line: { color: style.colour, width: 1.4 },
          symbol: points.map(({ row }) => style.symbol + (row.st === "flagged" ? "-open" : "") + (style.era ? "-dot" : "")),
          size: points.map(({ row }) => (row.st === "flagged" ? 12 : 8)),
        },
        error_y: {
          type: "data", symmetric: false, color: style.colour, thickness: 0.8, width: 2,
          array: points.map(({ row }) => row.m[metric][2] - row.m[metric][0]),
          arrayminus: points.map(({ row }) => row.m[metric][0] - row.m[metric][1]),
        },
      });
      if (points.length === 1 && levels.length > 1 && points[0].row.c === levels[0]) {
        // sequential runs at C=1 only: its level is drawn across, as a reference (as in the PNGs)
        out.push({ type: "scatter", mode: "lines", x: [levels[0], levels[levels.length - 1]], y: [ys[0], ys[0]],
          line: { color: style.colour, dash: "dot", width: 1 }, hoverinfo: "skip", showlegend: false,
          legendgroup: model, meta: { kind: "reference", strategy: points[0].row.s } });
      }
    }
    const ideal = levels.map((c) => [c, (run().cells[cellKey(c)] || { ideal: {} }).ideal[metric]])
      .filter(([, y]) => y !== undefined);
    if (ideal.length && METRICS.get(metric).ideal) {
      out.push({ type: "scatter", mode: ideal.length > 1 ? "lines" : "lines+markers", name: METRICS.get(metric).ideal,
        x: ideal.map(([c]) => c), y: ideal.map(([, y]) => y), meta: { kind: "ideal" },
        line: { color: "black", dash: "dash", width: 1.2 }, marker: { symbol: "line-ew-open", size: 16 },
        hovertemplate: `${METRICS.get(metric).ideal}: %{y}<extra></extra>` });
    }
    return out;
  }
  // A log axis labelled 1-2-5 in full ("20,000", "5,000"): plotly's own labels its 2s and 5s with the digit alone.
  function logTicks(data) {
    const ys = data.flatMap((t) => t.y).filter((y) => y > 0);
    if (!ys.length) return {};
    const low = Math.min(...ys) / 1.5, high = Math.max(...ys) * 1.5;
    const values = [];
    for (let decade = 10 ** Math.floor(Math.log10(low)); decade <= high; decade *= 10) {
      for (const step of [1, 2, 5]) if (step * decade >= low && step * decade <= high) values.push(step * decade);
    }
    return { tickvals: values, ticktext: values.map((v) => v.toLocaleString("en-US", { maximumSignificantDigits: 3 })) };
  }
  function draw() {
    const metric = state.metric;
    const rows = viewRows();
    const data = traces(rows, metric);
    const levels = [...new Set(rows.map(({ row }) => row.c))].sort((a, b) => a - b);
    const m = METRICS.get(metric);
    const layout = {
      height: 560, margin: { l: 70, r: 20, t: 30, b: 60 }, hovermode: "closest",
      xaxis: { type: "log", title: { text: "concurrency C (requests in flight, log scale)" },
        tickvals: levels, ticktext: levels.map((c) => c.toLocaleString("en-US")) },
      yaxis: { type: m.log ? "log" : "linear", title: { text: m.label }, tickformat: metric === "efficiency" ? ".0%" : "",
        ...(m.log ? logTicks(data) : {}) },
      legend: { groupclick: "toggleitem", tracegroupgap: 6 },
      annotations: data.length ? [] : [{ text: "no measured rows in this view", showarrow: false,
        xref: "paper", yref: "paper", x: 0.5, y: 0.5 }],
    };
    $("chart-caption").textContent = `${m.label} against C: ${state.workload} workload, ${state.profile}, ` +
      `${state.policy}; run ${state.run}. ${data.filter((t) => t.meta.kind === "row").length} strategies drawn.`;
    document.body.dataset.drawn = "";
    return Plotly.react($("chart"), data, layout, { displaylogo: false, responsive: true, showLink: false, showSendToCloud: false,
      modeBarButtonsToRemove: ["sendDataToCloud", "select2d", "lasso2d"] }).then(() => {
      document.body.dataset.drawn = "1";
      if (!performance.getEntriesByName("chart-drawn").length) performance.mark("chart-drawn");
    });
  }

  // --- the tables
  function table(header, lines, caption) {
    const node = el("table", {}, ...(caption ? [el("caption", { text: caption })] : []),
      el("thead", {}, el("tr", {}, ...header.map((h) => el("th", { scope: "col", text: h })))));
    node.append(el("tbody", {}, ...lines.map((cells) => el("tr", {}, ...cells.map((c) => (c instanceof Node ? el("td", {}, c) : el("td", { text: c })))))));
    return node;
  }
  function htmlTable(header, lines) {
    const node = el("table", {}, el("thead", {}, el("tr", {}, ...header.map((h) => el("th", { scope: "col", text: h })))));
    node.append(el("tbody", {}, ...lines.map((cells) => el("tr", {}, ...cells.map((c) => el("td", { html: c }))))));
    return node;
  }
  function fillPoints() {
    const metric = state.metric;
    const rows = viewRows();
    const drawn = rows.filter(({ row }) => row.m && row.m[metric]).sort((a, b) => compareKeys(a.row.s, b.row.s) || a.row.c - b.row.c);
    const head = $("points").tHead, body = $("points").tBodies[0];
    head.replaceChildren(el("tr", {}, ...["strategy", "C", METRICS.get(metric).label, "min–max", "95 % interval", "rounds", "status"]
      .map((h) => el("th", { scope: "col", text: h }))));
    body.replaceChildren(...drawn.map(({ row, index }, i) => {
      const m = row.m[metric];
      const tr = el("tr", { tabindex: i === 0 ? "0" : "-1", "data-row": String(index) },
        ...[row.s, String(row.c), show(m[0], metric), `${show(m[1], metric)}–${show(m[2], metric)}`,
          m[3] === null ? "-" : `[${show(m[3], metric)}, ${show(m[4], metric)}]`, String(m[5]), row.st]
          .map((text) => el("td", { text })));
      tr.addEventListener("focus", () => focusRow(row, index));
      tr.addEventListener("click", () => { state.level = String(row.c); update(); });
      tr.addEventListener("keydown", (event) => {
        const next = { ArrowDown: tr.nextElementSibling, ArrowUp: tr.previousElementSibling }[event.key];
        if (next) { tr.tabIndex = -1; next.tabIndex = 0; next.focus(); event.preventDefault(); }
        if (event.key === "Enter") { state.level = String(row.c); update(); }
      });
      return tr;
    }));
    $("points-count").textContent = `The plotted rows (${drawn.length}): focus one for its details`;
    const missing = rows.filter(({ row }) => !row.m || !row.m[metric]);
    $("not-drawn").replaceChildren(...(missing.length ? [el("p", { text: "Not drawn in this view: " + missing.map(({ row }) =>
      `${row.s} C=${row.c} (${row.st}${row.reason ? ": " + row.reason.split("\n")[0].slice(0, 120) : row.m ? ": no value for this metric" : ""})`).join("; ") + "." })] : []));
  }
  function focusRow(row, index) {
    $("point").innerHTML = pointText(row, state.metric);  // its data is escaped (esc)
    const chart = $("chart");
    (chart.data || []).forEach((trace, curve) => {
      const point = trace.meta && trace.meta.kind === "row" ? trace.customdata.indexOf(index) : -1;
      if (point >= 0) Plotly.Fx.hover(chart, [{ curveNumber: curve, pointNumber: point }]);
    });
  }
  function fillCell() {
    const key = cellKey(state.level);
    const cell = run().cells[key];
    const body = $("cell-body");
    body.replaceChildren();
    if (!cell) { body.append(el("p", { text: "No cell at this level in this view." })); return; }
    body.append(el("h3", { text: `${state.workload} workload, ${state.profile}, ${state.policy}, C=${state.level}` }),
      el("p", {}, "Measured order of every strategy (“>” a difference that counts, “~” none): ", el("strong", { text: cell.order })),
      table(["faster", "slower", "ratio [95 % CI]", "Holm-adjusted p", "counts"],
        cell.links.map(([a, b, ratio, p, mark]) => [a, b, ratio, p, mark === ">" ? "yes (>)" : "no (~)"]),
        "Each step of the measured order (Welch on log req/s, Holm over the cell's adjacent pairs)"));
    if (cell.claim) {
      body.append(el("p", { text: "The claim in this cell, as REPORT.md's cell-by-cell table has it:" }),
        htmlTable(DATA.claimHeader, [cell.claim]));
    }
  }
  function fillCompare() {
    const section = $("comparison"), body = $("compare-body");
    const pair = state.compare && DATA.compare[`${state.run}>${state.compare}`];
    section.hidden = !pair;
    body.replaceChildren();
    if (!pair) return;
    const other = RUNS.get(state.compare);
    const shown = new Set(viewRows().map(({ index }) => index));
    const lines = pair.rows.filter(([a]) => shown.has(a)).map(([a, b, ratio, mark]) => {
      const ra = run().rows[a], rb = other.rows[b];
      return [ra.s, String(ra.c), fmt(ra.m.rps[0]), fmt(rb.m.rps[0]), ratio, mark];
    });
    body.append(el("p", { text: `A: ${state.run}; B: ${state.compare} (python -m bench.compare A B). ${pair.line}` }),
      table(["strategy", "C", "A req/s", "B req/s", "B/A [95 % CI]", "changed"], lines,
        `Rows of this view in both runs: ${lines.length}`));
  }
  function fillRun() {
    const r = run();
    $("answer-title").textContent = `The claim's answer in run ${r.id}`;
    const links = [el("a", { href: r.json, text: `${r.id}: the run's JSON` })];
    if (r.report) links.push(" · ", el("a", { href: r.report, text: "its REPORT.md" }));
    else links.push(" · no REPORT.md of this run (its folder's REPORT.md is of another run)");
    $("links").replaceChildren(...links);
    $("machine-body").innerHTML = r.machine;
    $("noise-body").innerHTML = r.noise;
    $("why").innerHTML = r.why || "<p>This run has no as-written cell of the claim's members: no \u201cwhy\u201d to tell.</p>";
    $("summary").innerHTML = r.summary || "";
    $("readings").replaceChildren(...(r.readings ? [table(r.readings.header, r.readings.rows,
      "Every reading in every profile: cells in which it holds, is contradicted, is not shown, is not evaluable")] : []));
    $("flag-text").replaceChildren(el("h3", { text: "Flags and notes" }), el("ul", {},
      ...Object.entries(DATA.flagText).map(([code, text]) => el("li", {}, el("code", { text: code }), `: ${text}.`)),
      ...Object.entries(DATA.noteText).map(([code, text]) => el("li", {}, el("code", { text: code }), ` (a note): ${text}.`))));
  }

  function update() {
    fillControls();
    fillRun();
    fillPoints();
    fillCell();
    fillCompare();
    writeFragment();
    return draw();
  }

  // --- wiring
  $("generated").textContent = `${DATA.runs.length} runs, made ${DATA.generated}`;
  for (const key of ["run", "workload", "metric", "compare", "level"]) {
    $(key).addEventListener("change", (event) => { state[key] = event.target.value; update(); });
  }
  $("all-strategies").addEventListener("click", () => { state.hidden.clear(); update(); });
  $("no-strategies").addEventListener("click", () => {
    run().rows.forEach((row) => state.hidden.add(row.s));
    update();
  });
  window.addEventListener("hashchange", () => { readFragment(); update(); });
  readFragment();
  update().then(() => {
    const chart = $("chart");
    chart.on("plotly_hover", (event) => {
      const point = event.points[0];
      if (point.data.meta.kind === "row") $("point").innerHTML = point.text;
    });
    chart.on("plotly_click", (event) => {
      const point = event.points[0];
      if (point.data.meta.kind === "row") { state.level = String(point.x); update(); }
    });
    chart.on("plotly_legendclick", (event) => {
      const meta = event.data[event.curveNumber].meta;
      if (meta.kind === "row") { state.hidden.add(meta.strategy); update(); }
      return false;
    });
  });
})();
