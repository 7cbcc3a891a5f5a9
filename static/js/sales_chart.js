// Monthly sales charts: <canvas data-sales-chart="ID of a json_script"> becomes a bar chart.
// Works on full pages and inside HTMX fragments; loads Chart.js once, on first need.
(function () {
  var current = document.currentScript;
  var chartSrc = current && current.dataset.chartjs;

  function withChart(callback) {
    if (window.Chart) { callback(); return; }
    var existing = document.querySelector("script[data-prm-chartjs]");
    if (existing) { existing.addEventListener("load", callback); return; }
    var script = document.createElement("script");
    script.src = chartSrc;
    script.dataset.prmChartjs = "1";
    script.addEventListener("load", callback);
    document.head.appendChild(script);
  }

  function render() {
    document.querySelectorAll("canvas[data-sales-chart]:not([data-rendered])").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.salesChart);
      if (!source) return;
      canvas.dataset.rendered = "1";
      var data = JSON.parse(source.textContent);
      var colours = ["#0d6efd", "#0dcaf0"];
      new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (d, i) {
            return { label: d.label, data: d.data, backgroundColor: colours[i % colours.length] };
          })
        },
        options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
      });
    });
  }

  if (!window.prmSalesChart) {
    window.prmSalesChart = true;
    document.addEventListener("htmx:afterSettle", function () { withChart(render); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { withChart(render); });
  } else {
    withChart(render);
  }
})();
