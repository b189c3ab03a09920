// The runs pages' bit of interaction: picking runs to compare, and on the compare page
// showing only the params that differ and switching the metric drawn. Everything else is
// plain links and forms the server answers.
"use strict";

const opsloopRuns = (() => {
  const MIN = 2;
  const MAX = 10;

  function table() {
    const search = document.getElementById("search");
    if (!search) return;
    // Another project has other experiments and keys: start it afresh.
    document.getElementById("project").addEventListener("change", (event) => {
      window.location.assign(`/ui/runs?project=${encodeURIComponent(event.target.value)}`);
    });
    document.getElementById("experiment").addEventListener("change", () => search.requestSubmit());

    const form = document.getElementById("compare");
    const button = document.getElementById("compare-button");
    const selected = document.getElementById("selected");
    if (!form) return;
    const boxes = () => [...document.querySelectorAll('input[name="run"][form="compare"]')];
    const update = () => {
      const count = boxes().filter((box) => box.checked).length;
      button.disabled = count < MIN || count > MAX;
      selected.textContent = count > MAX
        ? `${count} selected: compare at most ${MAX}`
        : `${count} selected${count < MIN ? `: choose at least ${MIN}` : ""}`;
    };
    boxes().forEach((box) => box.addEventListener("change", update));
    const all = document.getElementById("pick-all");
    if (all) {
      all.addEventListener("change", () => {
        boxes().forEach((box) => { box.checked = all.checked; });
        update();
      });
    }
    update();
  }

  function compare() {
    const only = document.getElementById("only-differences");
    const params = document.getElementById("param-table");
    if (only && params) {
      only.addEventListener("change", () => params.classList.toggle("only-differences", only.checked));
    }
    const metric = document.getElementById("metric");
    if (metric) {
      metric.addEventListener("change", () => document.getElementById("curve-form").requestSubmit());
      document.getElementById("metric-show").hidden = true;
    }
    opsloopCharts.drawAll();
  }

  return { table, compare };
})();
