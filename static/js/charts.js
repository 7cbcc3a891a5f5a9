// Dashboard charts: every `[data-prm-chart]` block holds a <canvas> and names a
// <script type="application/json"> data block (Django's json_script) with the chart's spec:
//   {kind: "bar"|"line", labels: [...], stacked: bool, unit: "money"|"percent"|"count", x_title?, y_max?,
//    datasets: [{label, data, type?, table_only?, unit?}]}
// The server renders the same numbers as a table beside the canvas; the "table" button swaps
// between them. No inline scripts; charts inside htmx fragments are built after each swap.
(function () {
  "use strict";

  var PALETTE = ["#0d6efd", "#20c997", "#fd7e14", "#6f42c1", "#dc3545", "#198754", "#0dcaf0", "#6c757d", "#d63384", "#ffc107"];
  var lang = document.documentElement.lang || undefined;

  function formatter(unit) {
    if (unit === "percent") {
      return function (v) { return v === null || v === undefined ? "" : Number(v).toLocaleString(lang, {maximumFractionDigits: 1}) + " %"; };
    }
    if (unit === "money") {
      return function (v) { return v === null || v === undefined ? "" : Number(v).toLocaleString(lang, {notation: "compact", maximumFractionDigits: 1}); };
    }
    return function (v) { return v === null || v === undefined ? "" : Number(v).toLocaleString(lang); };
  }

  function build(block) {
    if (block.dataset.prmChartReady || typeof window.Chart === "undefined") return;
    var source = document.getElementById(block.dataset.prmChart);
    var canvas = block.querySelector("canvas");
    if (!source || !canvas) return;
    var spec = JSON.parse(source.textContent);
    var fmt = formatter(spec.unit);
    var datasets = spec.datasets.filter(function (d) { return !d.table_only; }).map(function (d, i) {
      var color = d.color || PALETTE[i % PALETTE.length];
      var line = (d.type || spec.kind) === "line";
      return {
        label: d.label,
        data: d.data,
        type: d.type || undefined,
        backgroundColor: line ? color : color + "cc",
        borderColor: color,
        borderWidth: line ? 2 : 1,
        borderDash: d.dashed ? [6, 4] : undefined,
        pointRadius: line ? (spec.labels.length > 40 ? 0 : 2) : undefined,
        fill: d.fill ? "origin" : false,
        tension: 0.2,
        order: line ? 0 : 1,
      };
    });
    block.dataset.prmChartReady = "1";
    block.prmChart = new window.Chart(canvas, {
      type: spec.kind,
      data: {labels: spec.labels, datasets: datasets},
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: {mode: "index", intersect: false},
        plugins: {
          legend: {display: datasets.length > 1, position: "bottom", labels: {boxWidth: 12}},
          tooltip: {callbacks: {label: function (ctx) { return ctx.dataset.label + ": " + fmt(ctx.parsed.y); }}},
        },
        scales: {
          x: {stacked: !!spec.stacked, ticks: {maxRotation: 0, autoSkip: true}, title: {display: !!spec.x_title, text: spec.x_title}},
          y: {stacked: !!spec.stacked, beginAtZero: true, max: spec.y_max || undefined, ticks: {callback: fmt, precision: spec.unit === "count" ? 0 : undefined}},
        },
      },
    });
  }

  function toggle(button) {
    var block = button.closest("[data-prm-chart-card]");
    if (!block) return;
    var table = block.querySelector("[data-prm-chart-table]");
    var chart = block.querySelector("[data-prm-chart]");
    var showTable = table.classList.contains("d-none");
    table.classList.toggle("d-none", !showTable);
    chart.classList.toggle("d-none", showTable);
    button.setAttribute("aria-pressed", showTable ? "true" : "false");
    button.classList.toggle("active", showTable);
  }

  function buildAll(root) {
    (root || document).querySelectorAll("[data-prm-chart]").forEach(build);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-prm-chart-toggle]");
    if (button) { event.preventDefault(); toggle(button); }
  });
  document.addEventListener("DOMContentLoaded", function () { buildAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { buildAll(event.target); });
})();
