// GPU node health dashboard: fetches /api/gpu/nodes and /api/gpu/telemetry and draws them.
// Plain browser JavaScript and the vendored uPlot, so the page works with no network access.
// Every value from the API goes into the page as text (never as HTML): node names are data.
"use strict";

const REFRESH_MS = 30000;
const PALETTE = ["#58a6ff", "#3fb950", "#d2a8ff", "#ffa657", "#79c0ff", "#56d364", "#ff7b72", "#e3b341",
                 "#a5d6ff", "#f778ba", "#7ee787", "#bc8cff", "#ffdf5d", "#39c5cf", "#ffab70", "#8b949e"];
const CHARTS = [
  {metric: "DCGM_FI_DEV_GPU_UTIL", title: "Utilisation (%)", fleet: "mean of the node's GPUs", scale: (v) => v},
  {metric: "DCGM_FI_DEV_FB_USED", title: "Memory used (GiB)", fleet: "sum over the node's GPUs", scale: (v) => v / 1024},
  {metric: "DCGM_FI_DEV_GPU_TEMP", title: "Temperature (°C)", fleet: "hottest GPU", scale: (v) => v},
  {metric: "DCGM_FI_DEV_POWER_USAGE", title: "Power (W)", fleet: "sum over the node's GPUs", scale: (v) => v},
  {metric: "DCGM_FI_DEV_XID_ERRORS", title: "Xid error code", fleet: "highest code", scale: (v) => v},
  {metric: "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", title: "ECC double-bit errors", fleet: "sum over the node's GPUs", scale: (v) => v},
];

const state = {view: null, selected: null, plots: []};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fmt(value, digits = 0) {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : value.toFixed(digits);
}

function gpuValues(row, metric) {
  return Object.values(row.telemetry || {}).map((gpu) => gpu[metric]).filter((v) => typeof v === "number");
}

const sum = (values) => values.reduce((a, b) => a + b, 0);

function card(label, value, status = "") {
  return el("div", {class: `card ${status}`}, el("div", {class: "label"}, label), el("div", {class: "value"}, value));
}

function renderCards(summary) {
  const cards = document.getElementById("cards");
  cards.replaceChildren(
    card("GPU nodes", summary.nodes),
    card("GPUs allocated", `${summary.allocated} / ${summary.gpus}`),
    card("GPUs reporting", summary.reporting_gpus),
    card("Critical nodes", summary.critical, summary.critical ? "critical" : ""),
    card("Warnings", summary.warning, summary.warning ? "warning" : ""),
  );
}

function utilisationBar(row) {
  const values = gpuValues(row, "DCGM_FI_DEV_GPU_UTIL");
  if (!values.length) return "–";
  const mean = sum(values) / values.length;
  return el("span", {class: "bar", title: `mean of ${values.length} GPUs`},
    el("span", {style: `width:${Math.min(100, mean)}%`}), el("em", {}, `${fmt(mean)} %`));
}

function memoryCell(row) {
  const used = gpuValues(row, "DCGM_FI_DEV_FB_USED");
  const free = gpuValues(row, "DCGM_FI_DEV_FB_FREE");
  if (!used.length) return "–";
  const total = sum(used) + sum(free);
  return `${fmt(sum(used) / 1024)} / ${fmt(total / 1024)} GiB`;
}

function temperatureCell(row, thresholds) {
  const values = gpuValues(row, "DCGM_FI_DEV_GPU_TEMP");
  if (!values.length) return "–";
  const hottest = Math.max(...values);
  const cls = hottest >= thresholds.critical_temp_c ? "hot" : hottest >= thresholds.warn_temp_c ? "warm" : "";
  return el("span", {class: cls}, `${fmt(hottest)} °C`);
}

function nodeRow(row, thresholds) {
  const gpus = row.gpus;
  const mig = gpus?.mig ? ` · MIG ${Object.keys(gpus.mig.devices || {}).join(", ")}` : "";
  const product = gpus ? `${gpus.count} × ${gpus.product}${mig}` : `${Object.keys(row.telemetry).length} reporting`;
  const allocated = gpus ? `${gpus.allocated} / ${gpus.count}` : "–";
  const power = gpuValues(row, "DCGM_FI_DEV_POWER_USAGE");
  const findings = row.findings.length
    ? row.findings.map((f) => el("span", {class: `finding ${f.severity}`}, f.text))
    : el("span", {class: "healthy"}, "healthy");
  const tr = el("tr", {class: `status-${row.status}`, "data-node": row.name, "data-status": row.status},
    el("td", {}, el("span", {class: `dot ${row.status}`, title: row.status})),
    el("td", {}, el("span", {class: "node"}, row.name)),
    el("td", {class: "product"}, product),
    el("td", {}, allocated),
    el("td", {}, utilisationBar(row)),
    el("td", {}, memoryCell(row)),
    el("td", {}, temperatureCell(row, thresholds)),
    el("td", {}, power.length ? `${fmt(sum(power))} W` : "–"),
    el("td", {}, findings),
  );
  if (row.name === state.selected) tr.classList.add("selected");
  tr.addEventListener("click", () => select(row.name));
  return tr;
}

function renderNodes(view) {
  document.querySelector("#nodes tbody").replaceChildren(...view.nodes.map((row) => nodeRow(row, view.thresholds)));
  document.getElementById("node-count").textContent = `${view.nodes.length} with GPUs`;
  const problems = document.getElementById("problems");
  problems.hidden = !view.problems_total;
  problems.textContent = view.problems_total
    ? `${view.problems_total} input problem(s), e.g. ${view.problems[0]}` : "";
  const newest = view.summary.newest_sample ? new Date(view.summary.newest_sample * 1000).toISOString().replace(".000", "") : "none";
  document.getElementById("meta").textContent =
    `inventory: ${view.source || "telemetry only"} · newest sample: ${newest} · refresh every ${REFRESH_MS / 1000}s`;
}

// Critical nodes are drawn in reds (each its own shade and dash), everything else from the palette.
const REDS = ["#f85149", "#ff9492", "#da3633", "#ffb3ad"];

function criticalRank(name, statusByNode) {
  if (state.selected || statusByNode[name] !== "critical") return -1;
  return Object.keys(statusByNode).filter((node) => statusByNode[node] === "critical").sort().indexOf(name);
}

function seriesColor(name, index, statusByNode) {
  const rank = criticalRank(name, statusByNode);
  return rank >= 0 ? REDS[rank % REDS.length] : PALETTE[index % PALETTE.length];
}

function renderLegend(series, statusByNode) {
  const items = series.map((name, index) => el("span", {},
    el("i", {style: `background:${seriesColor(name, index, statusByNode)}`}),
    statusByNode[name] === "critical" && !state.selected ? el("b", {}, name) : (state.selected ? `GPU ${name}` : name)));
  document.getElementById("legend").replaceChildren(...items);
}

function renderCharts(telemetry) {
  state.plots.forEach((plot) => plot.destroy());
  state.plots = [];
  const statusByNode = Object.fromEntries((state.view?.nodes || []).map((row) => [row.name, row.status]));
  const container = document.getElementById("charts");
  container.replaceChildren();
  for (const chart of CHARTS) {
    const rows = telemetry.metrics[chart.metric] || [];
    const points = rows.reduce((n, values) => n + values.filter((v) => v !== null).length, 0);
    const subtitle = state.selected ? "per GPU" : chart.fleet;
    const box = el("div", {class: "chart", "data-metric": chart.metric, "data-points": points},
      el("h3", {}, chart.title, el("span", {class: "dim"}, ` · ${subtitle}`)));
    container.append(box);
    if (!points) {
      box.append(el("div", {class: "empty"}, "no samples"));
      continue;
    }
    const data = [telemetry.ts, ...rows.map((values) => values.map((v) => (v === null ? null : chart.scale(v))))];
    const series = [{}, ...telemetry.series.map((name, index) => ({
      label: state.selected ? `GPU ${name}` : name,
      stroke: seriesColor(name, index, statusByNode),
      width: criticalRank(name, statusByNode) >= 0 ? 2.5 : 1.5,
      dash: criticalRank(name, statusByNode) > 0 ? [8, 3 * criticalRank(name, statusByNode)] : undefined,
      spanGaps: false,
      points: {show: false},
    }))];
    const axis = {stroke: "#8593a3", grid: {stroke: "#222b34", width: 1}, ticks: {stroke: "#26303a"}};
    const compact = (u, splits) => splits.map((v) => (v === null ? "" : Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)}k` : String(+v.toFixed(2))));
    const width = Math.max(240, box.clientWidth - 14);
    const plot = new uPlot({
      width, height: 190, series, legend: {show: false},
      cursor: {sync: {key: "gpu"}, points: {size: 5}},
      scales: {x: {time: true}, y: {range: (u, min, max) => [Math.min(0, min), max > min ? max * 1.08 : max + 1]}},
      axes: [axis, {...axis, size: 48, values: compact}],
    }, data, box);
    state.plots.push(plot);
  }
  renderLegend(telemetry.series, statusByNode);
}

// A server with API keys wants one on every data request. It comes in the URL fragment
// (/dashboard#key=KEY: never sent to the server, so never in its logs), is kept for this
// tab only, and the fragment is removed from the address bar.
const KEY_STORE = "kubetrainer-api-key";
const fragmentKey = new URLSearchParams(location.hash.slice(1)).get("key");
if (fragmentKey) {
  sessionStorage.setItem(KEY_STORE, fragmentKey);
  history.replaceState(null, "", location.pathname + location.search);
}

async function getJson(url) {
  const key = sessionStorage.getItem(KEY_STORE);
  const response = await fetch(url, {cache: "no-store", headers: key ? {Authorization: `Bearer ${key}`} : {}});
  if (response.status === 401) throw new Error("this server needs an API key: open /dashboard#key=YOUR_KEY");
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function loadCharts() {
  const url = state.selected ? `api/gpu/telemetry?node=${encodeURIComponent(state.selected)}` : "api/gpu/telemetry";
  document.getElementById("charts-title").textContent = state.selected ? `${state.selected} over time` : "Fleet over time";
  document.getElementById("fleet").hidden = !state.selected;
  try {
    renderCharts(await getJson(url));
  } catch (error) {
    document.getElementById("charts").replaceChildren(el("div", {class: "chart"}, el("div", {class: "empty"}, String(error))));
  }
}

async function select(name) {
  state.selected = state.selected === name ? null : name;
  document.querySelectorAll("#nodes tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.node === state.selected));
  await loadCharts();
}

// Open investigations of Alertmanager alerts (POST /v1/alerts). The standalone dashboard has no
// such route and a server may have none open: the panel then stays hidden.
function investigationRow(item) {
  const severity = item.labels.severity || "";
  return el("tr", {class: `status-${severity}`, "data-fingerprint": item.fingerprint},
    el("td", {}, el("span", {class: `finding ${severity}`}, item.alert)),
    el("td", {class: "node"}, item.objects),
    el("td", {title: item.summary}, item.cause),
    el("td", {}, item.starts_at.replace("T", " ").replace(/\.\d+/, "")),
    el("td", {}, `${item.received}×`),
  );
}

async function loadInvestigations() {
  const panel = document.getElementById("investigations-panel");
  let list;
  try {
    list = await getJson("v1/investigations?status=open&limit=20");
  } catch (error) {
    panel.hidden = true;
    return;
  }
  panel.hidden = !list.total;
  document.getElementById("investigation-count").textContent = `${list.total} open`;
  document.querySelector("#investigations tbody").replaceChildren(...list.data.map(investigationRow));
}

async function refresh() {
  loadInvestigations();
  try {
    state.view = await getJson("api/gpu/nodes");
    renderCards(state.view.summary);
    renderNodes(state.view);
    await loadCharts();
    document.body.dataset.loaded = "true";
  } catch (error) {
    document.getElementById("meta").textContent = `cannot load: ${error.message}`;
    document.body.dataset.loaded = "error";
  }
}

document.getElementById("fleet").addEventListener("click", () => select(state.selected));
window.addEventListener("resize", () => state.plots.forEach((plot) => {
  plot.setSize({width: Math.max(240, plot.root.parentElement.clientWidth - 14), height: 190});
}));
refresh();
setInterval(refresh, REFRESH_MS);
