// opsloop's pages: a little script over server-rendered HTML. Writes go to the REST API with
// the session cookie and the CSRF header (the value the page carries in data-csrf).
"use strict";

const opsloop = (() => {
  const csrf = () => document.body.dataset.csrf || "";

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Opsloop-CSRF": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new Error(error.message || `${response.status} ${response.statusText}`);
    }
    return data;
  }

  function logout() {
    const button = document.getElementById("logout");
    if (!button) return;
    button.addEventListener("click", async () => {
      await fetch("/logout", { method: "POST", headers: { "X-Opsloop-CSRF": csrf() } });
      window.location.assign("/login");
    });
  }

  // The endpoint page's buttons: each opens the confirmation, which asks for a reason.
  function endpointActions() {
    const dialog = document.getElementById("confirm");
    const title = document.getElementById("confirm-title");
    const what = document.getElementById("confirm-what");
    const reason = document.getElementById("confirm-reason");
    const problem = document.getElementById("confirm-error");
    const deployFields = document.getElementById("deploy-fields");
    let pending = null;

    const texts = {
      rollback: ["Roll back", "Restore the traffic plan before the current deployment."],
      promote: ["Promote the canary", "Send all traffic to the canary version."],
      restore: ["Restore a deployment", "Serve again the plan of deployment #"],
      deploy: ["Deploy a version", "Serve another version of the model."],
    };

    function request(action, button) {
      const base = `/api/v1/endpoints/${encodeURIComponent(button.dataset.endpoint)}`;
      const why = reason.value.trim();
      if (action === "rollback") return ["POST", `${base}/rollback`, { reason: why }];
      if (action === "promote") return ["POST", `${base}/promote`, { reason: why }];
      if (action === "restore") {
        return ["POST", `${base}/rollback`, { number: Number(button.dataset.number), reason: why }];
      }
      const canary = document.getElementById("deploy-canary").value;
      return ["POST", `${base}/deployments`, {
        model: document.getElementById("deploy-version").value,
        canary: canary === "" ? null : Number(canary),
        shadow: document.getElementById("deploy-shadow").checked,
        force: document.getElementById("deploy-force").checked,
        reason: why,
      }];
    }

    document.querySelectorAll("[data-action]").forEach((button) => {
      button.addEventListener("click", () => {
        const action = button.dataset.action;
        pending = { action, button };
        title.textContent = texts[action][0];
        what.textContent = texts[action][1] + (action === "restore" ? button.dataset.number + "." : "");
        deployFields.hidden = action !== "deploy";
        reason.value = "";
        problem.hidden = true;
        dialog.showModal();
        reason.focus();
      });
    });
    document.getElementById("confirm-cancel").addEventListener("click", () => dialog.close());
    document.getElementById("confirm-ok").addEventListener("click", async () => {
      if (!pending) return;
      if (!reason.value.trim()) {
        problem.textContent = "Say why: the reason is kept in the deployment history.";
        problem.hidden = false;
        return;
      }
      try {
        await api(...request(pending.action, pending.button));
        window.location.reload();
      } catch (error) {
        problem.textContent = error.message;
        problem.hidden = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", logout);
  return { api, endpointActions };
})();
