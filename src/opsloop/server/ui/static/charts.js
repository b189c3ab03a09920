// Line charts over uPlot (vendored), shared by the pages that draw them. A page renders its
// figures into <script type="application/json"> (Jinja's tojson) and a <div data-chart="ID">
// naming that script; opsloopCharts.drawAll() draws every such chart on the page.
//
// The JSON: {"x": [...], "series": [{"label": "...", "values": [...]}, ...],
//            "time": true|false, "y": "axis label", "xLabel": "step", "spanGaps": true|false}
// x is epoch seconds when time is true (the default), else a step or a count. Missing values
// are null: uPlot leaves a gap there rather than drawing a line through nothing, unless
// spanGaps is true (lines whose points fall at different x, such as runs logging at
// different steps, are drawn across the others' x).
"use strict";

const opsloopCharts = (() => {
  const COLORS = ["#2f5bea", "#b42318", "#16794c", "#a45f00", "#7c3aed", "#0e7490", "#be185d", "#4b5563"];

  function draw(holder) {
    const source = document.getElementById(holder.dataset.chart);
    if (!source) throw new Error(`chart data #${holder.dataset.chart} is missing`);
    const figures = JSON.parse(source.textContent);
    const time = figures.time !== false;
    const series = [{ label: time ? "time" : (figures.xLabel || "step") }];
    figures.series.forEach((line, index) => {
      series.push({
        label: line.label,
        stroke: COLORS[index % COLORS.length],
        width: 1.5,
        spanGaps: figures.spanGaps === true,
        points: { show: figures.x.length <= 60 },
      });
    });
    const options = {
      width: Math.max(holder.clientWidth, 320),
      height: Number(holder.dataset.height || 240),
      scales: { x: { time } },
      series,
      axes: [{}, { label: figures.y || "" }],
      legend: { live: true },
    };
    const data = [figures.x, ...figures.series.map((line) => line.values)];
    holder.replaceChildren();
    const chart = new uPlot(options, data, holder);
    holder.chart = chart;
    return chart;
  }

  function drawAll(root) {
    const charts = [...(root || document).querySelectorAll("[data-chart]")].map(draw);
    if (charts.length) {
      window.addEventListener("resize", () => {
        charts.forEach((chart) => chart.setSize({
          width: Math.max(chart.root.parentElement.clientWidth, 320),
          height: chart.height,
        }));
      });
    }
    return charts;
  }

  return { draw, drawAll };
})();
