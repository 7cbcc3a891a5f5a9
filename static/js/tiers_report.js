// Tier distribution chart on the staff tier report (data from the json_script tag).
(function () {
  "use strict";
  var canvas = document.getElementById("tier-distribution");
  var source = document.getElementById("tier-distribution-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets: [{ data: data.counts, backgroundColor: "#0d6efd" }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, animation: false },
  });
})();
