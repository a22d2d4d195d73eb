// The admin dashboard: polls the staff-only JSON (GET /api/v1/analytics/pipeline/) every few
// seconds and redraws its charts in place (Chart.js, from our own static files). Figures the
// server keeps per minute come whole each time; the broker's live figures (backlogs, dead
// letters) have no history on the server, so the page keeps the last HISTORY samples itself.
"use strict";

(function () {
  const root = document.getElementById("pipeline-dashboard");
  const refreshMs = Number(root.dataset.refreshMs);
  const HISTORY = 60;
  const STATUS_COLORS = {
    pending: "#90a4ae", payment_processing: "#4fc3f7", paid: "#0288d1", reserved: "#7e57c2",
    pending_shipment: "#ffb300", shipped: "#26a69a", completed: "#43a047", payment_failed: "#e57373",
    out_of_stock: "#8d6e63", cancelled: "#bdbdbd", failed: "#c62828",
  };
  const PALETTE = ["#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00acc1", "#6d4c41", "#546e7a"];
  const samples = { labels: [], backlog: {}, deadLetters: [] };
  const state = { updates: 0, last: null, charts: {} };
  window.pipelineDashboard = state;

  function colorFor(name, index) {
    return STATUS_COLORS[name] || PALETTE[index % PALETTE.length];
  }

  function timeLabel(value) {
    return new Date(value).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function makeChart(id, type, options) {
    const chart = new Chart(document.getElementById(id), {
      type: type,
      data: { labels: [], datasets: [] },
      options: Object.assign({
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: { y: { beginAtZero: true } },
      }, options || {}),
    });
    state.charts[id] = chart;
    return chart;
  }

  const stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } };
  const charts = {
    orders: makeChart("chart-orders", "bar", stacked),
    latency: makeChart("chart-latency", "line"),
    retries: makeChart("chart-retries", "bar", stacked),
    backlog: makeChart("chart-backlog", "line"),
    pools: makeChart("chart-pools", "bar", { indexAxis: "y", scales: { x: { beginAtZero: true } } }),
    deadLetters: makeChart("chart-dlq", "line"),
  };

  // Replace a chart's labels and series, keeping each dataset object (and its colour) by name.
  function setSeries(chart, labels, series) {
    chart.data.labels = labels;
    const names = Object.keys(series);
    chart.data.datasets = names.map(function (name, index) {
      const existing = chart.data.datasets.find(function (d) { return d.label === name; });
      const dataset = existing || {
        label: name, borderColor: colorFor(name, index), backgroundColor: colorFor(name, index),
        pointRadius: 2, borderWidth: 2,
      };
      dataset.data = series[name];
      return dataset;
    });
    chart.update("none");
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
  }

  function seconds(value) {
    return value === null || value === undefined ? "–" : value.toFixed(2);
  }

  function renderTables(data) {
    const latency = document.querySelector("#latency-table tbody");
    latency.replaceChildren();
    Object.entries(data.step_latency.window).forEach(function ([step, figures]) {
      const row = latency.insertRow();
      cell(row, step);
      cell(row, String(figures.count));
      cell(row, seconds(figures.p50));
      cell(row, seconds(figures.p95));
    });
    const breakers = document.querySelector("#breaker-table tbody");
    breakers.replaceChildren();
    data.breakers.forEach(function (b) {
      const row = breakers.insertRow();
      row.dataset.breaker = b.name;
      cell(row, b.name);
      cell(row, b.state.replace("_", "-"), "breaker-" + b.state);
      cell(row, String(b.calls));
      cell(row, String(b.errors));
      cell(row, b.open_for_s ? b.open_for_s.toFixed(1) : "–");
      cell(row, String(b.times_opened));
    });
  }

  function keepSample(data) {
    samples.labels.push(new Date(data.generated_at).toLocaleTimeString());
    data.queues.forEach(function (q) {
      (samples.backlog[q.name] = samples.backlog[q.name] || []).push(q.backlog);
    });
    samples.deadLetters.push(data.dead_letters.count);
    if (samples.labels.length > HISTORY) {
      samples.labels.shift();
      samples.deadLetters.shift();
      Object.values(samples.backlog).forEach(function (values) { values.shift(); });
    }
  }

  function render(data) {
    const minutes = data.minutes.map(timeLabel);
    setSeries(charts.orders, minutes, data.orders_per_minute);
    setSeries(charts.latency, minutes, data.step_latency.p95);
    setSeries(charts.retries, minutes, data.retries_per_minute);
    keepSample(data);
    setSeries(charts.backlog, samples.labels.slice(), samples.backlog);
    setSeries(charts.deadLetters, samples.labels.slice(), { "dead letters": samples.deadLetters });
    const pools = data.pools.map(function (p) { return [p.node, p.queues.join(", ")]; });
    setSeries(charts.pools, pools, {
      size: data.pools.map(function (p) { return p.size; }),
      max: data.pools.map(function (p) { return p.max; }),
    });
    renderTables(data);
    const count = data.dead_letters.count;
    const figure = document.getElementById("dlq-count");
    figure.textContent = count === null ? "unknown" : String(count);
    figure.classList.toggle("dashboard-unavailable", count !== null && count > data.dead_letters.max);
    const unavailable = document.getElementById("dashboard-unavailable");
    unavailable.hidden = data.unavailable.length === 0;
    unavailable.textContent = "Could not read: " + data.unavailable.join(", ");
  }

  function showStatus(text, stale) {
    const status = document.getElementById("dashboard-status");
    status.textContent = text;
    status.classList.toggle("stale", stale);
  }

  async function refresh() {
    try {
      const response = await fetch(root.dataset.url, {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (!response.ok) {
        throw new Error(response.status === 403 || response.status === 401
          ? "not allowed: log in again" : "HTTP " + response.status);
      }
      const data = await response.json();
      render(data);
      state.last = data;
      state.updates += 1;
      root.dataset.updates = String(state.updates);
      showStatus("Updated " + new Date(data.generated_at).toLocaleTimeString()
        + ", every " + refreshMs / 1000 + " s.", false);
    } catch (error) {
      showStatus("Not updated (" + error.message + "); trying again.", true);
    } finally {
      window.setTimeout(refresh, refreshMs);
    }
  }

  refresh();
})();
