// Bootstrap-style forms: add classes to inputs rendered by Django without widgets' attrs.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form.prm-form input, form.prm-form select, form.prm-form textarea").forEach(function (el) {
    if (el.type === "checkbox" || el.type === "radio") { el.classList.add("form-check-input"); return; }
    if (el.type === "hidden") return;
    el.classList.add(el.tagName === "SELECT" ? "form-select" : "form-control");
  });
});
