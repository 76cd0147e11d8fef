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

  var AQI_COLOURS = ["#9aa5b1", "#00e400", "#ffff00", "#ff7e00", "#ff0000", "#99004c", "#7e0023"];
  var TZ_MS = 8 * 3600 * 1000; // China Standard Time

  function cst(ts) {
    var d = new Date(ts * 1000 + TZ_MS);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getUTCFullYear() + "-" + p(d.getUTCMonth() + 1) + "-" + p(d.getUTCDate()) + " " +
      p(d.getUTCHours()) + ":" + p(d.getUTCMinutes());
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

  // --- station chart: measured, corrected, min-max band, flagged points, limit; zoom refetches ---
  function stationChart(el) {
    if (!window.echarts) { return; }
    var L = labels(el);
    var chart = echarts.init(el);
    var status = document.getElementById("chart-status");
    var base = el.getAttribute("data-series-url");
    var state = { end: parseInt(el.getAttribute("data-end"), 10), span: parseInt(el.getAttribute("data-span"), 10) };
    var timer = null;

    function load(start, end) {
      el.setAttribute("data-loading", "true");
      getJSON(base + "&start=" + Math.floor(start) + "&end=" + Math.ceil(end)).then(function (s) {
        var x = s.ts.map(function (t) { return t * 1000 + TZ_MS; });
        var pair = function (arr) { return x.map(function (t, i) { return [t, arr[i]]; }); };
        var flagged = [];
        for (var i = 0; i < s.ts.length; i++) {
          if (s.flag[i] && s.flag[i] !== "N") { flagged.push([x[i], s.value[i], s.flag[i]]); }
        }
        var series = [
          { name: L.range, type: "line", data: pair(s.low), lineStyle: { opacity: 0 }, stack: "band", symbol: "none" },
          { name: L.range, type: "line", data: x.map(function (t, i) {
              return [t, s.high[i] == null || s.low[i] == null ? null : s.high[i] - s.low[i]]; }),
            lineStyle: { opacity: 0 }, areaStyle: { color: "#9ec5e8", opacity: 0.5 }, stack: "band", symbol: "none" },
          { name: L.value, type: "line", data: pair(s.value), showSymbol: false, connectNulls: false, lineStyle: { width: 1.5, color: "#0b4f8a" } },
          { name: L.zs, type: "line", data: pair(s.zs), showSymbol: false, lineStyle: { width: 1.2, color: "#b45309", type: "dashed" } },
          { name: L.flagged, type: "scatter", data: flagged, symbolSize: 7, itemStyle: { color: "#b91c1c" } }
        ];
        if (s.limit != null) {
          series[2].markLine = { symbol: "none", data: [{ yAxis: s.limit, name: L.limit }], lineStyle: { color: "#b91c1c" } };
        }
        chart.setOption({
          animation: false,
          legend: { top: 0 },
          tooltip: { trigger: "axis" },
          grid: { left: 56, right: 24, top: 36, bottom: 70 },
          xAxis: { type: "time", min: start * 1000 + TZ_MS, max: end * 1000 + TZ_MS,
                   axisLabel: { formatter: function (v) { return cst((v - TZ_MS) / 1000); } } },
          yAxis: { type: "value", scale: true },
          dataZoom: [{ type: "inside" }, { type: "slider" }],
          series: series
        }, true);
        el.setAttribute("data-points", String(s.ts.length));
        el.setAttribute("data-resolution", s.resolution);
        el.removeAttribute("data-loading");
        if (status) {
          status.textContent = (s.ts.length ? "" : L.nodata + " · ") + L.resolution + ": " + s.resolution +
            " (" + s.granularity + ") · " + cst(start) + " – " + cst(end) + " · " + s.ts.length;
        }
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
      var data = page.data.map(function (r) { return [r.data_ts * 1000 + TZ_MS, r.value]; });
      chart.setOption({
        animation: false,
        title: data.length ? undefined : { text: L.nodata, left: "center", top: "middle" },
        tooltip: { trigger: "axis" },
        xAxis: { type: "time", axisLabel: { formatter: function (v) { return cst((v - TZ_MS) / 1000); } } },
        yAxis: { type: "value", scale: true },
        dataZoom: [{ type: "inside" }, { type: "slider" }],
        series: [{ name: L.value, type: "line", data: data, showSymbol: false }]
      });
      el.setAttribute("data-points", String(data.length));
    });
  }

  // --- public map: province boundary from bundled data, stations coloured by AQI ---
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
                 itemStyle: { color: AQI_COLOURS[s.level || 0], borderColor: "#1f2933", borderWidth: 1 }, id: s.id };
      });
      var chart = echarts.init(el);
      chart.setOption({
        animation: false,
        tooltip: { trigger: "item", formatter: function (p) {
          return echarts.format.encodeHTML(p.name) + (p.value ? "<br>" + L.aqi + ": " + (p.value[2] === "-" ? L.nodata : p.value[2]) : ""); } },
        geo: { map: name, roam: true, itemStyle: { areaColor: "#eef2f6", borderColor: "#7b8794" },
               emphasis: { itemStyle: { areaColor: "#dde4ec" } } },
        series: [{ type: "scatter", coordinateSystem: "geo", data: points, symbolSize: 14,
                   label: { show: true, formatter: function (p) { return p.value[2]; }, position: "top" } }]
      });
      chart.on("click", function (p) { if (p.data && p.data.id) { window.location.href = "/air/stations/" + p.data.id; } });
      el.setAttribute("data-ready", "true");
      window.addEventListener("resize", function () { chart.resize(); });
    }).catch(function () { el.setAttribute("data-ready", "error"); });
  }

  function start() {
    document.querySelectorAll(".chart[data-series-url]").forEach(stationChart);
    document.querySelectorAll(".chart[data-public-series]").forEach(publicChart);
    document.querySelectorAll("#air-map").forEach(airMap);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
