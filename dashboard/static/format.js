/* Paramedic dashboard: figures for chart legends and axes (window.paramedicFormat), loaded before
 * dashboard.js. Pure functions of their arguments: tests/dashboard/test_format_js.py runs them in Chromium. */
(function () {
  "use strict";

  // [scale, decimals, suffix] of ``v`` in ``unit`` (B, s, % or anything else, which is not shown): the figure
  // is (v / scale).toFixed(decimals) + suffix. Values under 0.01 of other units keep two significant digits
  // (0.0012, not 0.00): a CPU chart in cores is mostly that.
  function parts(v, unit) {
    const a = Math.abs(v);
    if (unit === "B") {
      if (a >= 2 ** 30) return [2 ** 30, 1, " GiB"];
      if (a >= 2 ** 20) return [2 ** 20, 1, " MiB"];
      if (a >= 2 ** 10) return [2 ** 10, 1, " KiB"];
      return [1, 0, " B"];
    }
    if (unit === "s") return a < 1 ? [0.001, a < 0.01 ? 2 : 0, " ms"] : [1, 2, " s"];
    if (unit === "%") return [1, a < 1 ? 2 : 1, " %"];
    if (a >= 1e6) return [1e6, 1, "M"];
    if (a >= 1e3) return [1e3, 1, "k"];
    if (a > 0 && a < 0.01) return [1, 1 - Math.floor(Math.log10(a)), ""];
    return [1, a < 10 ? 2 : 0, ""];
  }

  // A short figure for a legend or a tooltip; ``extra`` more decimals than usual.
  function human(v, unit, extra) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    const [scale, decimals, suffix] = parts(v, unit);
    return (v / scale).toFixed(decimals + (extra || 0)) + suffix;
  }

  // Labels of an axis' ticks: human() figures with as many extra decimals as the tick spacing needs (every
  // label within half a step of its tick), so ticks 0.001 apart read 0.0010, 0.0020, ... and ticks 0.005
  // apart 0.045, 0.050, 0.055 (not 0.00, 0.00, ... or 0.04, 0.05, 0.06).
  function tickLabels(vals, unit) {
    let step = Infinity;
    for (let i = 1; i < vals.length; i++) {
      const d = Math.abs(vals[i] - vals[i - 1]);
      if (d > 0 && d < step) step = d;
    }
    let extra = 0;
    if (step !== Infinity) {
      const coarsest = Math.max(...vals.map((v) => { const [s, d] = parts(v, unit); return s * 10 ** -d; }));
      while (extra < 8 && coarsest * 10 ** -extra > step / 2) extra++;
    }
    return vals.map((v) => human(v, unit, extra));
  }

  window.paramedicFormat = { human: human, tickLabels: tickLabels };
})();
