// The monitoring page: draws its charts, and for a deployer the resolve button of an open
// alert, which asks for a reason and sends it to the REST API (which checks the role again).
"use strict";

(() => {
  function resolveButtons() {
    const dialog = document.getElementById("resolve");
    if (!dialog) return;
    const what = document.getElementById("resolve-what");
    const reason = document.getElementById("resolve-reason");
    const problem = document.getElementById("resolve-error");
    let pending = null;
    document.querySelectorAll("[data-resolve]").forEach((button) => {
      button.addEventListener("click", () => {
        pending = button.dataset.resolve;
        what.textContent = `Close alert #${pending} (rule ${button.dataset.rule}) by hand.`;
        reason.value = "";
        problem.hidden = true;
        dialog.showModal();
        reason.focus();
      });
    });
    document.getElementById("resolve-cancel").addEventListener("click", () => dialog.close());
    document.getElementById("resolve-ok").addEventListener("click", async () => {
      if (!pending) return;
      const why = reason.value.trim();
      if (!why) {
        problem.textContent = "Say why: the reason is kept with the alert.";
        problem.hidden = false;
        return;
      }
      try {
        await opsloop.api("POST", `/api/v1/alerts/${encodeURIComponent(pending)}/resolve`, { reason: why });
        window.location.reload();
      } catch (error) {
        problem.textContent = error.message;
        problem.hidden = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    opsloopCharts.drawAll();
    resolveButtons();
  });
})();
