// The reviewer's desk: one item at a time, decided with the keyboard. Claims, decisions and
// skips go to the REST API (opsloop.api sends the CSRF header); the server then renders the
// desk again (/ui/review/ENDPOINT/desk) and it replaces the old one, without a page reload.
"use strict";

(() => {
  const section = document.getElementById("review");
  if (!section) return;
  const endpoint = section.dataset.endpoint;
  const api = `/api/v1/endpoints/${encodeURIComponent(endpoint)}/review`;
  const deskPath = `/ui/review/${encodeURIComponent(endpoint)}/desk`;
  const desk = document.getElementById("review-desk");
  const problem = document.getElementById("review-problem");
  const done = document.getElementById("review-done");
  const keys = document.getElementById("review-keys");
  let picked = null; // the label chosen with 1..9 or a click, as the policy wrote it
  let busy = false;

  const item = () => document.getElementById("review-item");
  const choices = () => Array.from(desk.querySelectorAll("button.choice"));

  function say(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function pick(index) {
    const all = choices();
    if (index >= all.length) return;
    all.forEach((button, at) => button.setAttribute("aria-pressed", String(at === index)));
    picked = JSON.parse(all[index].dataset.label);
    say(problem, "");
  }

  // The label to send: the one picked, or what was typed where the model has no classes.
  function label() {
    const typed = document.getElementById("review-label");
    if (!typed) return picked;
    const text = typed.value.trim();
    if (text === "") return null;
    const number = Number(text);
    return Number.isFinite(number) ? number : text;
  }

  async function refresh() {
    const response = await fetch(deskPath, { credentials: "same-origin" });
    if (response.redirected) {
      window.location.reload(); // the session ended: the page sends the viewer to log in
      return;
    }
    if (!response.ok) throw new Error(`the next item could not be shown (${response.status})`);
    const before = item();
    const note = document.getElementById("review-note");
    const kept = before && note ? [before.dataset.item, note.value] : null;
    desk.innerHTML = await response.text();
    picked = null;
    bind();
    const after = item();
    if (kept && after && after.dataset.item === kept[0]) {
      document.getElementById("review-note").value = kept[1]; // the same item: keep the note
    }
  }

  // Claim the next item (the API gives back the one this reviewer holds, if any) and show it.
  async function next() {
    await opsloop.api("POST", `${api}/claim`);
    await refresh();
  }

  async function decide() {
    const current = item();
    if (!current) {
      if (document.getElementById("review-next")) await next();
      return;
    }
    const chosen = label();
    if (chosen === null) {
      const count = Math.min(choices().length, 9);
      say(problem, count ? `Pick a label first (1 to ${count}).` : "Type a label first.");
      return;
    }
    const body = { label: chosen };
    const note = document.getElementById("review-note").value.trim();
    if (note) body.note = note;
    const decided = await opsloop.api("POST", `${api}/items/${current.dataset.item}/decision`, body);
    const row = document.querySelector(`#items tr[data-item="${decided.id}"]`);
    if (row && decided.status === "closed") row.remove();
    say(done, `Item #${decided.id} (request ${decided.request_id}): ${chosen}.`);
    await next();
  }

  async function skip() {
    const current = item();
    if (!current) return;
    const skipped = await opsloop.api("POST", `${api}/items/${current.dataset.item}/skip`);
    say(done, `Item #${skipped.id} skipped.`);
    await next();
  }

  // One action at a time; what the API refuses (a lapsed claim: 409) is said on the page.
  async function run(action) {
    if (busy) return;
    busy = true;
    say(problem, "");
    try {
      await action();
    } catch (error) {
      say(problem, error.message);
      try {
        await refresh(); // show what holds now: after a lapsed claim, the way to claim again
      } catch {
        // the message above already says what went wrong
      }
    } finally {
      busy = false;
    }
  }

  function toggleKeys() {
    if (keys.open) keys.close();
    else keys.showModal();
  }

  function bind() {
    choices().forEach((button, index) => button.addEventListener("click", () => pick(index)));
    const on = (id, handler) => {
      const element = document.getElementById(id);
      if (element) element.addEventListener("click", handler);
    };
    on("review-decide", () => run(decide));
    on("review-skip", () => run(skip));
    on("review-next", () => run(next));
    on("review-help", toggleKeys);
  }

  function typing(target) {
    return target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      if (event.key === "Enter" && event.target.id === "review-label") {
        event.preventDefault();
        run(decide);
      }
      return; // keys are letters of the note while it is being written
    }
    if (event.key === "?") {
      event.preventDefault();
      toggleKeys();
      return;
    }
    if (keys.open) return;
    if (/^[1-9]$/.test(event.key)) {
      pick(Number(event.key) - 1);
    } else if (event.key === "Enter" || event.key === "d") {
      run(decide);
    } else if (event.key === "s") {
      run(skip);
    } else if (event.key === "n") {
      const note = document.getElementById("review-note");
      if (note) note.focus();
    } else {
      return;
    }
    event.preventDefault(); // Enter on a focused button must not press it as well
  });

  bind();
  if (document.getElementById("review-claiming")) run(next);
})();
