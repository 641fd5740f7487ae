// The runs page: while a run is running, its counts are read again from the JSON API every 2 s.
// Text goes in with textContent only: nothing from the catalog is ever parsed as HTML.
"use strict";

(function () {
  const status = document.getElementById("runs-status");
  if (!status) return;
  function update(data) {
    for (const run of data.runs) {
      const row = document.querySelector('tr[data-run="' + CSS.escape(run.id) + '"]');
      if (!row) continue;
      row.querySelector(".archived").textContent = String(run.captures_archived);
      row.querySelector(".status").textContent = run.status;
    }
    status.dataset.running = String(data.running);
    status.textContent = data.running + " running" + (data.running ? " · updated every 2 s" : "");
  }

  function poll() {
    fetch("/api/runs", { credentials: "same-origin" })
      .then((answer) => (answer.ok ? answer.json() : Promise.reject(answer.status)))
      .then((data) => {
        update(data);
        if (data.running > 0) setTimeout(poll, 2000);
      })
      .catch(() => setTimeout(poll, 10000));
  }

  if (Number(status.dataset.running) > 0) setTimeout(poll, 2000);
})();
