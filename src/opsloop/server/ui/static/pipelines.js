// A pipeline run's page: "Run again" (through the REST API, after a confirmation), and a
// reload every few seconds while the run is still going, unless the confirmation is open.
"use strict";

(() => {
  const REFRESH_MS = 5000;
  const dialog = document.getElementById("run-again-confirm");
  const button = document.getElementById("run-again");

  if (dialog && button) {
    const problem = document.getElementById("run-again-error");
    const start = document.getElementById("run-again-ok");
    const params = JSON.parse(document.getElementById("run-again-params").textContent);

    button.addEventListener("click", () => {
      problem.hidden = true;
      start.disabled = false;
      dialog.showModal();
    });
    document.getElementById("run-again-cancel").addEventListener("click", () => dialog.close());
    start.addEventListener("click", async () => {
      start.disabled = true;
      const path = `/api/v1/pipelines/${encodeURIComponent(button.dataset.pipeline)}/runs`;
      try {
        const run = await opsloop.api("POST", path, { params });
        window.location.assign(`/ui/pipelines/runs/${encodeURIComponent(run.id)}`);
      } catch (error) {
        problem.textContent = error.message;
        problem.hidden = false;
        start.disabled = false;
      }
    });
  }

  const run = document.getElementById("run");
  if (run && run.dataset.active === "true") {
    window.setTimeout(function reload() {
      if (dialog && dialog.open) {
        window.setTimeout(reload, REFRESH_MS);
      } else {
        window.location.reload();
      }
    }, REFRESH_MS);
  }
})();
