// envtrace web: progressive enhancement only (pages work without it). No inline script anywhere:
// the Content-Security-Policy forbids it. Data comes from data-* attributes and JSON blocks.
(function () {
  "use strict";
  var csrf = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };

  document.addEventListener("htmx:configRequest", function (ev) {
    ev.detail.headers["X-CSRF-Token"] = csrf();
  });

  var NO_DATA = "#9aa5b1";
  var AQI_COLOURS = [NO_DATA, "#00e400", "#ffff00", "#ff7e00", "#ff0000", "#99004c", "#7e0023"];
  var TZ_MS = 8 * 3600 * 1000; // China Standard Time
  var LANG = (document.body && document.body.getAttribute("data-lang")) || "zh";

  function cst(ts) {
    var d = new Date(ts * 1000 + TZ_MS);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getUTCFullYear() + "-" + p(d.getUTCMonth() + 1) + "-" + p(d.getUTCDate()) + " " +
      p(d.getUTCHours()) + ":" + p(d.getUTCMinutes());
  }
  function xOf(ts) { return ts * 1000 + TZ_MS; }
  function timeAxis(extra) {
    var axis = { type: "time", axisLabel: { formatter: function (v) { return cst((v - TZ_MS) / 1000); } } };
    for (var k in (extra || {})) { axis[k] = extra[k]; }
    return axis;
  }
  function esc(text) { return window.echarts ? echarts.format.encodeHTML(String(text)) : String(text); }
  function fmt(v) {
    if (v == null || isNaN(v)) { return "—"; }
    var a = Math.abs(v);
    return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toPrecision(3);
  }

  function labels(el) {
    try { return JSON.parse(el.getAttribute("data-labels") || "{}"); } catch (e) { return {}; }
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  function axisTooltip(extra) {
    return {
      trigger: "axis",
      formatter: function (params) {
        if (!params.length) { return ""; }
        var lines = [cst((params[0].value[0] - TZ_MS) / 1000)];
        params.forEach(function (p) {
          var v = p.value[1];
          if (v == null) { return; }
          var line = esc(p.seriesName) + ": " + fmt(v);
          var more = extra ? extra(p) : "";
          lines.push(line + (more ? " · " + esc(more) : ""));
        });
        return lines.join("<br>");
      }
    };
  }

  // Tooltips carry no inline style (no series marker): the CSP forbids style attributes.

  // --- station chart: raw readings at fine zoom; validity-judged values at hour/day zoom ---------
  function stationChart(el) {
    if (!window.echarts) { return; }
    var L = labels(el);
    var chart = echarts.init(el);
    var status = document.getElementById("chart-status");
    var base = el.getAttribute("data-series-url");
    var judgedBase = el.getAttribute("data-judged-url");
    var state = { end: parseInt(el.getAttribute("data-end"), 10), span: parseInt(el.getAttribute("data-span"), 10) };
    var timer = null;
    var seq = 0;

    function pair(x, arr) { return x.map(function (t, i) { return [t, arr[i]]; }); }

    function bandSeries(s, x) {
      return [
        { name: L.range, type: "line", data: pair(x, s.low), lineStyle: { opacity: 0 }, stack: "band", symbol: "none" },
        { name: L.range, type: "line", data: x.map(function (t, i) {
            return [t, s.high[i] == null || s.low[i] == null ? null : s.high[i] - s.low[i]]; }),
          lineStyle: { opacity: 0 }, areaStyle: { color: "#9ec5e8", opacity: 0.5 }, stack: "band", symbol: "none" }
      ];
    }

    function limitLine(series, value, o2) {
      if (value == null) { return; }
      var text = L.limit + " " + fmt(value) + (o2 != null ? " (O₂ " + o2 + "%)" : "");
      series.markLine = { symbol: "none", data: [{ yAxis: value, name: L.limit }], lineStyle: { color: "#b91c1c" },
                          label: { formatter: text } };
    }

    function rawSeries(s) {
      var x = s.ts.map(xOf);
      var flagged = [];
      for (var i = 0; i < s.ts.length; i++) {
        if (s.flag[i] && s.flag[i] !== "N") { flagged.push([x[i], s.value[i], s.flag[i]]); }
      }
      var series = bandSeries(s, x).concat([
        { name: L.value, type: "line", data: pair(x, s.value), showSymbol: false, connectNulls: false, lineStyle: { width: 1.5, color: "#0b4f8a" } },
        { name: L.zs, type: "line", data: pair(x, s.zs), showSymbol: false, lineStyle: { width: 1.2, color: "#b45309", type: "dashed" } },
        { name: L.flagged, type: "scatter", data: flagged, symbolSize: 7, itemStyle: { color: "#b91c1c" } }
      ]);
      limitLine(series[2], s.limit);
      return { series: series, judged: 0, invalid: 0, exceed: 0, note: "" };
    }

    function judgedSeries(s, j) {
      var x = s.ts.map(xOf);
      var jx = j.ts.map(xOf);
      var series = bandSeries(s, x);
      if (!j.ts.length) {
        var mean = { name: L.value, type: "line", data: pair(x, s.value), showSymbol: false, lineStyle: { width: 1.5, color: "#0b4f8a" } };
        limitLine(mean, s.limit);
        series.push(mean);
        return { series: series, judged: 0, invalid: 0, exceed: 0, note: L.not_judged };
      }
      var valid = [], invalid = [], lows = {};
      x.forEach(function (t, i) { lows[t] = s.low[i]; });
      for (var i = 0; i < j.ts.length; i++) {
        if (j.valid[i]) {
          valid.push([jx[i], j.value[i]]);
        } else {
          valid.push([jx[i], null]);
          var y = j.value[i] != null ? j.value[i] : (lows[jx[i]] != null ? lows[jx[i]] : 0);
          invalid.push([jx[i], y, j.reason[i], j.n_valid[i], j.n_total[i]]);
        }
      }
      var judgedLine = { name: L.judged, type: "line", data: valid, showSymbol: j.ts.length < 80, symbolSize: 4,
                         connectNulls: false, lineStyle: { width: 2, color: "#0b4f8a" }, itemStyle: { color: "#0b4f8a" } };
      series.push(judgedLine);
      series.push({ name: L.invalid, type: "scatter", data: invalid, symbol: "triangle", symbolSize: 10,
                    itemStyle: { color: "#6b7280", borderColor: "#1f2933", borderWidth: 1 } });
      var hasZs = j.zs.some(function (v) { return v != null; });
      var hasStationZs = j.station_zs.some(function (v) { return v != null; });
      var zsLine = null;
      if (hasZs) {
        zsLine = { name: L.platform_zs, type: "line", data: pair(jx, j.zs.map(function (v, i) { return j.valid[i] ? v : null; })),
                   showSymbol: false, lineStyle: { width: 1.5, color: "#b45309" } };
        series.push(zsLine);
      }
      // A limit at a reference O2 applies to the corrected value: draw it on that line.
      var lim = j.limit && j.limit.value != null ? j.limit : null;
      var onCorrected = lim && lim.o2_ref_pct != null && zsLine;
      limitLine(onCorrected ? zsLine : judgedLine, lim ? lim.value : s.limit, lim ? lim.o2_ref_pct : null);
      if (hasStationZs) {
        series.push({ name: L.station_zs, type: "line", data: pair(jx, j.station_zs), showSymbol: false,
                      lineStyle: { width: 1.2, color: "#7c3aed", type: "dashed" } });
      }
      if (j.exceedances.length) {
        series.push({ name: L.exceedance, type: "scatter", symbol: "diamond", symbolSize: 12, itemStyle: { color: "#b91c1c" },
                      data: j.exceedances.map(function (e) { return [xOf(e.period_ts), e.value, e.ratio, e.limit_value]; }) });
      }
      if (j.disagreements.length) {
        series.push({ name: L.disagreement, type: "scatter", symbol: "pin", symbolSize: 16, itemStyle: { color: "#7c3aed" },
                      data: j.disagreements.map(function (d) { return [xOf(d.period_ts), d.station_value, d.field, d.platform_value]; }) });
      }
      return { series: series, judged: j.ts.length, invalid: invalid.length, exceed: j.exceedances.length,
               note: L.judged_note, reasons: j.reasons };
    }

    function draw(start, end, s, built) {
      var reasons = built.reasons || {};
      chart.setOption({
        animation: false,
        legend: { top: 0, type: "scroll" },
        tooltip: axisTooltip(function (p) {
          if (p.seriesName === L.invalid) {
            var r = reasons[String(p.value[2])];
            var text = r ? (LANG === "en" ? r.en : r.zh) : String(p.value[2]);
            return L.reason + ": " + text + (p.value[4] != null ? " (" + L.valid_minutes + " " + p.value[3] + "/" + p.value[4] + ")" : "");
          }
          if (p.seriesName === L.exceedance) { return "×" + fmt(p.value[2]) + " " + L.limit + " " + fmt(p.value[3]); }
          if (p.seriesName === L.disagreement) { return p.value[2] + " ≠ " + fmt(p.value[3]); }
          if (p.seriesName === L.flagged) { return "Flag " + p.value[2]; }
          return "";
        }),
        grid: { left: 56, right: 24, top: 44, bottom: 70 },
        xAxis: timeAxis({ min: xOf(start), max: xOf(end) }),
        yAxis: { type: "value", scale: true },
        dataZoom: [{ type: "inside" }, { type: "slider" }],
        series: built.series
      }, true);
      el.setAttribute("data-points", String(s.ts.length));
      el.setAttribute("data-resolution", s.resolution);
      el.setAttribute("data-judged", String(built.judged));
      el.setAttribute("data-invalid", String(built.invalid));
      el.setAttribute("data-exceedances", String(built.exceed));
      el.removeAttribute("data-loading");
      if (status) {
        status.textContent = (s.ts.length ? "" : L.nodata + " · ") + L.resolution + ": " + s.resolution +
          " (" + s.granularity + ") · " + cst(start) + " – " + cst(end) + " · " + s.ts.length +
          (built.note ? " · " + built.note : "");
      }
    }

    function load(start, end) {
      var mine = ++seq;
      el.setAttribute("data-loading", "true");
      var range = "&start=" + Math.floor(start) + "&end=" + Math.ceil(end);
      // The server picks raw up to 3,000 minutes, hourly up to 3,000 hours, daily beyond
      // (store.console.choose_resolution): ask for the judged values at the same time.
      var span = end - start;
      var expected = span <= 3000 * 60 ? "raw" : (span <= 3000 * 3600 ? "hour" : "day");
      var judged = function (res) { return getJSON(judgedBase + range + "&granularity=" + res); };
      var early = expected !== "raw" && judgedBase ? judged(expected) : null;
      if (early) { early.catch(function () { return null; }); } // handled below when used
      getJSON(base + range).then(function (s) {
        if (s.resolution === "raw" || !judgedBase) { return [s, null]; }
        var j = early && expected === s.resolution ? early : judged(s.resolution);
        return j.then(function (found) { return [s, found]; });
      }).then(function (got) {
        if (mine !== seq) { return; }
        var s = got[0], j = got[1];
        draw(start, end, s, j ? judgedSeries(s, j) : rawSeries(s));
      }).catch(function (e) {
        el.removeAttribute("data-loading");
        if (status) { status.textContent = String(e); }
      });
    }

    chart.on("datazoom", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var opt = chart.getOption();
        var xa = opt.xAxis[0], dz = opt.dataZoom[0];
        var lo = (xa.min - TZ_MS) / 1000, hi = (xa.max - TZ_MS) / 1000;
        var a = lo + (hi - lo) * dz.start / 100, b = lo + (hi - lo) * dz.end / 100;
        if (b - a < (hi - lo) * 0.95) { load(a, b); }
      }, 400);
    });
    document.querySelectorAll('[data-target="' + el.id + '"][data-range]').forEach(function (btn) {
      btn.addEventListener("click", function () {
        var span = parseInt(btn.getAttribute("data-range"), 10);
        load(state.end - span, state.end);
      });
    });
    window.addEventListener("resize", function () { chart.resize(); });
    load(state.end - state.span, state.end);
  }

  // --- public station history (hourly values) ---
  function publicChart(el) {
    if (!window.echarts) { return; }
    var L = labels(el);
    var chart = echarts.init(el);
    getJSON(el.getAttribute("data-public-series")).then(function (page) {
      var data = page.data.map(function (r) { return [xOf(r.data_ts), r.value]; });
      chart.setOption({
        animation: false,
        title: data.length ? undefined : { text: L.nodata, left: "center", top: "middle" },
        tooltip: axisTooltip(),
        xAxis: timeAxis(),
        yAxis: { type: "value", scale: true },
        dataZoom: [{ type: "inside" }, { type: "slider" }],
        series: [{ name: L.value, type: "line", data: data, showSymbol: false }]
      });
      el.setAttribute("data-points", String(data.length));
    });
  }

  // --- AQI history of a station (the roll-up's), bars in the category colours ---
  function aqiChart(el) {
    if (!window.echarts) { return; }
    var L = labels(el);
    var chart = echarts.init(el);
    var status = document.getElementById("aqi-status");
    var end = parseInt(el.getAttribute("data-end"), 10);
    function load(granularity) {
      var span = granularity === "day" ? 90 * 86400 : 7 * 86400;
      var url = el.getAttribute("data-aqi-url") + "?granularity=" + granularity + "&from=" + (end - span) + "&to=" + end;
      getJSON(url).then(function (page) {
        var rows = page.data;
        chart.setOption({
          animation: false,
          title: rows.length ? undefined : { text: L.nodata, left: "center", top: "middle" },
          tooltip: { trigger: "item", formatter: function (p) {
            var r = rows[p.dataIndex];
            var cat = L.lang === "en" ? r.category_en : r.category_zh;
            return esc(cst(r.period_ts)) + "<br>AQI " + (r.aqi == null ? esc(L.na) : r.aqi) + (cat ? " · " + esc(cat) : "") +
              (r.primary.length ? "<br>" + esc(L.primary) + ": " + esc(r.primary.join(", ")) : "") + "<br>" + esc(r.edition);
          } },
          xAxis: timeAxis({ min: xOf(end - span), max: xOf(end) }),
          yAxis: { type: "value", min: 0 },
          dataZoom: [{ type: "inside" }, { type: "slider" }],
          series: [{ name: "AQI", type: "bar", barMaxWidth: 14,
                     data: rows.map(function (r) {
                       return { value: [xOf(r.period_ts), r.aqi == null ? (r.aqi_available || 0) : r.aqi],
                                itemStyle: { color: r.aqi == null ? NO_DATA : r.colour } };
                     }) }]
        }, true);
        el.setAttribute("data-points", String(rows.length));
        el.setAttribute("data-granularity", granularity);
        if (status) { status.textContent = rows.length ? rows[rows.length - 1].edition : L.nodata; }
      }).catch(function (e) { if (status) { status.textContent = String(e); } });
    }
    document.querySelectorAll('[data-target="' + el.id + '"][data-aqi-range]').forEach(function (btn) {
      btn.addEventListener("click", function () { load(btn.getAttribute("data-aqi-range")); });
    });
    window.addEventListener("resize", function () { chart.resize(); });
    load("hour");
  }

  // --- public map: province boundary from bundled data, stations in their AQI category colour ---
  function airMap(el) {
    if (!window.echarts) { return; }
    var L = labels(el);
    var dataEl = document.getElementById("air-data");
    var air = dataEl ? JSON.parse(dataEl.textContent) : { data: [] };
    var name = el.getAttribute("data-province");
    getJSON(el.getAttribute("data-geo")).then(function (geo) {
      echarts.registerMap(name, geo);
      var points = air.data.filter(function (s) { return s.lat != null && s.lon != null; }).map(function (s) {
        return { name: s.name || String(s.id), value: [s.lon, s.lat, s.aqi == null ? "-" : s.aqi],
                 itemStyle: { color: s.colour || AQI_COLOURS[s.level || 0], borderColor: "#1f2933", borderWidth: 1 },
                 id: s.id, station: s };
      });
      var chart = echarts.init(el);
      chart.setOption({
        animation: false,
        tooltip: { trigger: "item", formatter: function (p) {
          var s = p.data && p.data.station;
          if (!s) { return esc(p.name); }
          var cat = L.lang === "en" ? s.category_en : s.category_zh;
          return esc(p.name) + "<br>" + L.aqi + ": " + (s.aqi == null ? esc(L.nodata) : s.aqi) + (cat ? " · " + esc(cat) : "") +
            (s.primary && s.primary.length ? "<br>" + esc(L.primary) + ": " + esc(s.primary.join(", ")) : "") +
            (s.aqi_source === "provisional" ? "<br>" + esc(L.provisional) : "") +
            (s.hour_ts ? "<br>" + cst(s.hour_ts) : "");
        } },
        geo: { map: name, roam: true, itemStyle: { areaColor: "#eef2f6", borderColor: "#7b8794" },
               emphasis: { itemStyle: { areaColor: "#dde4ec" } } },
        series: [{ type: "scatter", coordinateSystem: "geo", data: points, symbolSize: 14,
                   label: { show: true, formatter: function (p) { return p.value[2]; }, position: "top" } }]
      });
      chart.on("click", function (p) { if (p.data && p.data.id) { window.location.href = "/air/stations/" + p.data.id; } });
      el.setAttribute("data-ready", "true");
      el.setAttribute("data-stations", String(points.length));
      window.addEventListener("resize", function () { chart.resize(); });
    }).catch(function () { el.setAttribute("data-ready", "error"); });
  }

  // --- alarm evidence: the detector's plotted series with its window, and statistic vs baseline vs threshold ---
  function evidencePlots() {
    var dataEl = document.getElementById("evidence-data");
    if (!dataEl || !window.echarts) { return; }
    var items = JSON.parse(dataEl.textContent);
    document.querySelectorAll(".evidence-plot[data-evidence]").forEach(function (el) {
      var item = items[parseInt(el.getAttribute("data-evidence"), 10)];
      if (!item) { return; }
      var L = labels(el);
      var chart = echarts.init(el);
      var lines = item.plots.filter(function (p) { return p.times.length; }).map(function (p, k) {
        return { name: p.label, type: p.times.length > 1 ? "line" : "scatter", xAxisIndex: 0, yAxisIndex: 0,
                 showSymbol: p.times.length < 60, symbolSize: 8,
                 data: p.times.map(function (t, i) { return [xOf(t), p.values[i]]; }),
                 markArea: k === 0 ? { silent: true, itemStyle: { color: "rgba(185, 28, 28, 0.08)" },
                                       data: [[{ name: L.window, xAxis: xOf(item.start_ts) }, { xAxis: xOf(item.end_ts) }]] } : undefined };
      });
      if (item.source === "exceedance" && item.threshold != null && lines.length) {
        lines[0].markLine = { symbol: "none", data: [{ yAxis: item.threshold, name: L.threshold }],
                              lineStyle: { color: "#b91c1c" }, label: { formatter: L.threshold + " " + fmt(item.threshold) } };
      }
      var bars = [
        { name: L.baseline, value: item.baseline, itemStyle: { color: "#52606d" } },
        { name: L.statistic, value: item.statistic, itemStyle: { color: "#0b4f8a" } },
        { name: L.threshold, value: item.threshold, itemStyle: { color: "#b91c1c" } }
      ].filter(function (b) { return b.value != null; });
      var pad = Math.max(1, 3600 * 1000);
      chart.setOption({
        animation: false,
        title: lines.length ? undefined : { text: L.nodata, left: "30%", top: "middle", textStyle: { fontSize: 13 } },
        legend: { top: 0, type: "scroll", data: lines.map(function (s) { return s.name; }) },
        tooltip: { trigger: "item", formatter: function (p) {
          if (p.seriesIndex === lines.length) { return esc(p.name) + ": " + fmt(p.value); }
          return esc(p.seriesName) + "<br>" + cst((p.value[0] - TZ_MS) / 1000) + ": " + fmt(p.value[1]);
        } },
        grid: [{ left: 56, right: "34%", top: 36, bottom: 40 }, { left: "72%", right: 16, top: 36, bottom: 40 }],
        xAxis: [timeAxis({ gridIndex: 0, min: function (v) { return Math.min(v.min, xOf(item.start_ts)) - pad; },
                           max: function (v) { return Math.max(v.max, xOf(item.end_ts)) + pad; } }),
                { type: "category", gridIndex: 1, data: bars.map(function (b) { return b.name; }) }],
        yAxis: [{ type: "value", scale: true, gridIndex: 0 }, { type: "value", gridIndex: 1, scale: true }],
        series: lines.concat([{ name: L.statistic, type: "bar", xAxisIndex: 1, yAxisIndex: 1, data: bars, barMaxWidth: 28,
                                label: { show: true, position: "top", formatter: function (p) { return fmt(p.value); } } }])
      });
      el.setAttribute("data-ready", "true");
      el.setAttribute("data-series", String(lines.length));
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  // --- outlets against their limits: each parameter's valid hours in % of its limit ---
  function outletChart(el) {
    if (!window.echarts) { return; }
    var L = labels(el);
    var series;
    try { series = JSON.parse(el.getAttribute("data-series") || "[]"); } catch (e) { series = []; }
    var chart = echarts.init(el);
    var lines = series.map(function (s) {
      return { name: LANG === "en" ? s.name : s.name_zh + " " + s.name.replace(/^.*\(/, "("), type: "line", showSymbol: true, symbolSize: 4,
               data: s.data.map(function (p) { return [xOf(p[0]), p[1]]; }), connectNulls: false };
    });
    if (lines.length) {
      lines[0].markLine = { symbol: "none", data: [{ yAxis: 100, name: L.limit }], lineStyle: { color: "#b91c1c" },
                            label: { formatter: L.limit } };
    }
    chart.setOption({
      animation: false,
      title: lines.length ? undefined : { text: L.nodata, left: "center", top: "middle", textStyle: { fontSize: 13 } },
      legend: { top: 0, type: "scroll" },
      tooltip: axisTooltip(),
      grid: { left: 48, right: 16, top: 32, bottom: 28 },
      xAxis: timeAxis(),
      yAxis: { type: "value", min: 0, axisLabel: { formatter: "{value}%" } },
      series: lines
    });
    el.setAttribute("data-ready", "true");
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function start() {
    document.querySelectorAll(".chart[data-series-url]").forEach(stationChart);
    document.querySelectorAll(".chart[data-public-series]").forEach(publicChart);
    document.querySelectorAll(".chart[data-aqi-url]").forEach(aqiChart);
    document.querySelectorAll(".outlet-chart[data-series]").forEach(outletChart);
    document.querySelectorAll("#air-map").forEach(airMap);
    evidencePlots();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
