// Keyboard triage on the alert queue: j/k move, Enter opens, a acknowledges, s starts,
// c opens the alert to close it with a reason, x selects for bulk actions.
(function () {
  "use strict";
  const table = document.getElementById("alert-table");
  if (!table) { return; }
  const rows = Array.from(table.querySelectorAll("tbody tr"));
  const csrf = document.querySelector('meta[name="csrf"]').content;
  let current = rows.length ? 0 : -1;

  function mark() {
    rows.forEach(function (row, i) { row.classList.toggle("current", i === current); });
    if (current >= 0) { rows[current].scrollIntoView({ block: "nearest" }); }
  }

  function post(row, status) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/alerts/" + row.dataset.id + "/triage";
    [["csrf", csrf], ["status", status], ["back", "queue"]].forEach(function (pair) {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }

  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement ||
        target instanceof HTMLTextAreaElement || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (current < 0) { return; }
    const row = rows[current];
    switch (event.key) {
      case "j": current = Math.min(rows.length - 1, current + 1); mark(); break;
      case "k": current = Math.max(0, current - 1); mark(); break;
      case "Enter": window.location.href = row.dataset.href; break;
      case "a": if (row.dataset.status === "new") { post(row, "acknowledged"); } break;
      case "s": if (row.dataset.status !== "closed") { post(row, "in_progress"); } break;
      case "c": window.location.href = row.dataset.href + "#close-form"; break;
      case "x": { const box = row.querySelector('input[type="checkbox"]'); box.checked = !box.checked; break; }
      default: return;
    }
    event.preventDefault();
  });
  rows.forEach(function (row, i) {
    row.addEventListener("click", function () { current = i; mark(); });
  });
  mark();
}());
