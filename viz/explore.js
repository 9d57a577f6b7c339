// The gradient-flow explorer's script: plain JavaScript, no library, no network.
// It reads the JSON embedded in the page (see viz/explore.py for its fields), shows one level's
// inline SVG drawing at a time, and binds hover, click and the training slider to it.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("explorer-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var levelNames = Object.keys(D.levels);
  var S = { level: levelNames[levelNames.length > 1 ? 1 : 0], snapshot: null, nodeEls: [], edgeEls: [],
            selected: null, logBars: false, zoomed: false };

  // ------------------------------------------------------------------------------ helpers
  function el(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function sv(tag, attrs, parent, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function num(x) {  // the printed precision of the page: 4 significant digits
    if (x === null || x === undefined) return "?";
    if (x === 0) return "0";
    var a = Math.abs(x);
    return (a >= 1e-3 && a < 1e4) ? String(Number(x.toPrecision(4))) : x.toExponential(3);
  }
  function snap() { return S.snapshot === null ? null : D.snapshots[S.snapshot]; }
  function L() { return D.levels[S.level]; }
  function flowIndex(step) {  // index of a scope step in the per-step arrays
    var steps = D.flow ? D.flow.scope_steps : (snap() ? snap().scope_steps : []);
    return steps ? steps.indexOf(step) : -1;
  }

  // ------------------------------------------------------------------------------- layout
  var top = el("header", { id: "top" }, document.body);
  el("h1", {}, top, D.title);
  var bar = el("div", { id: "levels" }, top);
  el("span", {}, bar, "level of detail: ");
  levelNames.forEach(function (name) {
    var b = el("button", { "data-level": name, type: "button" }, bar, name);
    b.addEventListener("click", function () { setLevel(name); });
  });
  var zoom = el("button", { id: "zoom", type: "button" }, bar, "natural size");
  zoom.addEventListener("click", function () {
    S.zoomed = !S.zoomed;
    zoom.textContent = S.zoomed ? "fit to pane" : "natural size";
    var drawing = graph.querySelector("svg");
    if (drawing) fit(drawing);
  });
  var scrub = null, scrubText = null;
  if (D.snapshots.length) {
    var box = el("div", { id: "scrubber" }, top);
    el("label", { for: "slider" }, box, "training iteration: ");
    scrub = el("input", { id: "slider", type: "range", min: 0, max: D.snapshots.length - 1, step: 1,
                          value: D.snapshots.length - 1 }, box);
    scrubText = el("span", { id: "slider-text" }, box);
    scrub.addEventListener("input", function () { setSnapshot(Number(scrub.value)); });
  }
  var main = el("main", {}, document.body);
  var graph = el("div", { id: "graph" }, main);
  var side = el("aside", { id: "side" }, main);
  var panel = el("div", { id: "panel" }, side);
  el("p", { class: "hint" }, panel,
     "Hover a node or edge for its numbers. Click a shared parameter for its per-step contributions, " +
     "or a node of a time step for the gradient's path from the loss back to it.");
  var notes = el("div", { id: "notes" }, side);
  var plots = el("div", { id: "plots" }, side);
  var tip = el("div", { id: "tooltip" }, document.body);

  // -------------------------------------------------------------------------------- level
  function setLevel(name) {
    S.level = name;
    S.selected = null;
    graph.classList.remove("dim");
    graph.innerHTML = D.levels[name].svg;
    var drawing = graph.querySelector("svg");
    if (drawing) {  // fit the drawing to the pane; the zoom button shows it at its natural size
      drawing.setAttribute("data-width", drawing.getAttribute("width"));
      drawing.setAttribute("data-height", drawing.getAttribute("height"));
      fit(drawing);
    }
    bind();
    document.querySelectorAll("#levels button").forEach(function (b) {
      b.classList.toggle("on", b.getAttribute("data-level") === name);
    });
    notes.textContent = L().notes.join(" · ");
    if (S.snapshot !== null) recolour();
    showHint();
  }

  function fit(drawing) {
    if (S.zoomed) {
      drawing.setAttribute("width", drawing.getAttribute("data-width"));
      drawing.setAttribute("height", drawing.getAttribute("data-height"));
    } else {
      drawing.setAttribute("width", "100%");
      drawing.removeAttribute("height");
    }
  }

  function bind() {  // map the SVG's <g> elements to the level's nodes and edges by their titles
    var lv = L(), byId = {}, pairs = {}, seen = {};
    S.nodeEls = []; S.edgeEls = [];
    lv.nodes.forEach(function (n, i) { byId[n.id] = i; });
    lv.edges.forEach(function (e, i) {
      var key = lv.nodes[e.src].id + "->" + lv.nodes[e.dst].id;
      (pairs[key] = pairs[key] || []).push(i);
    });
    graph.querySelectorAll("g.node").forEach(function (g) {
      var i = byId[g.querySelector("title").textContent];
      if (i === undefined) return;
      g.setAttribute("data-node", i);
      S.nodeEls[i] = g;
      g.addEventListener("mouseenter", function (ev) { showTip(ev, nodeText(i)); });
      g.addEventListener("mousemove", moveTip);
      g.addEventListener("mouseleave", hideTip);
      g.addEventListener("click", function () { clickNode(i); });
    });
    graph.querySelectorAll("g.edge").forEach(function (g) {
      var key = g.querySelector("title").textContent, list = pairs[key];
      if (!list) return;
      var k = seen[key] || 0;
      seen[key] = k + 1;
      if (k >= list.length) return;
      var i = list[k];
      g.setAttribute("data-edge", i);
      S.edgeEls[i] = g;
      g.addEventListener("mouseenter", function (ev) { showTip(ev, edgeText(i)); });
      g.addEventListener("mousemove", moveTip);
      g.addEventListener("mouseleave", hideTip);
      g.addEventListener("click", function () { if (lv.edges[i].param) selectParam(lv.edges[i].param); });
    });
  }

  // ------------------------------------------------------------------------------ tooltip
  function nodeText(i) {
    var n = L().nodes[i], s = snap(), lines = [];
    lines.push(n.role ? n.role + "  (" + (n.op || n.kind) + ")" : n.title + (n.op ? "  (" + n.op + ")" : ""));
    if (n.shape) lines.push("shape (" + n.shape.join(", ") + ")");
    if (n.value) lines.push("value " + n.value);
    if (n.grad !== undefined) lines.push("‖grad‖ = " + num(n.grad));
    if (n.members) lines.push(n.members + " graph nodes");
    n.lines.forEach(function (t) { if (t && lines.indexOf(t) < 0 && !n.shape) lines.push(t); });
    if (n.step !== null && n.step !== undefined) lines.push("time step t = " + tnum(n.step));
    var k = n.step !== null ? flowIndex(n.step) : -1;
    if (k >= 0 && D.flow) lines.push("‖dL/dh‖ = " + num(D.flow.dl_dh[k]) + ",  ‖dh_T/dh‖ = " + num(D.flow.dhT_dh[k]));
    if (s && k >= 0 && (n.h || n.kind === "cell" || n.kind === "step"))
      lines.push("at iteration " + s.iteration + ": ‖dL/dh‖ = " + num(s.dl_dh[k]));
    if (n.param) lines.push("click: per-step contributions of " + n.param);
    return lines;
  }

  function edgeText(i) {
    var lv = L(), e = lv.edges[i], s = snap(), lines = [];
    lines.push(lv.nodes[e.src].title + " → " + lv.nodes[e.dst].title + "  (" + e.kind + ")");
    if (e.grad !== undefined) lines.push("‖gradient sent back‖ = " + num(e.grad));
    if (e.param) {
      var steps = e.steps.length === 1 ? "step " + tnum(e.steps[0]) : "steps " + tnum(e.steps[0]) + "–" + tnum(e.steps[e.steps.length - 1]);
      lines.push("contribution of " + steps + " to " + e.param + ".grad:");
      lines.push("  ‖·‖ = " + num(e.grad) + ",  signed (adds up to ‖grad‖) = " + num(e.signed));
      if (s && s.contributions[e.param] && e.steps.length === 1) {
        var k = s.scope_steps.indexOf(e.steps[0]);
        if (k >= 0) lines.push("at iteration " + s.iteration + ": ‖·‖ = " + num(s.contributions[e.param][k]) +
                               ", signed = " + num(s.signed[e.param][k]));
      }
    }
    if (e.label && !e.param) lines.push(e.label.replace(/\n/g, " "));
    return lines;
  }

  function showTip(ev, lines) {
    tip.textContent = "";
    lines.forEach(function (t) { el("div", {}, tip, t); });
    tip.style.display = "block";
    moveTip(ev);
  }
  function moveTip(ev) {
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + "px";
    tip.style.top = (ev.clientY + 14) + "px";
  }
  function hideTip() { tip.style.display = "none"; }

  // ---------------------------------------------------------------------------- selection
  function clearHighlight() {
    graph.querySelectorAll(".hl").forEach(function (g) { g.classList.remove("hl"); });
    graph.classList.remove("dim");
  }

  function clickNode(i) {
    var n = L().nodes[i];
    if (n.param && D.params[n.param]) return selectParam(n.param);
    if (n.step !== null && n.step !== undefined) return selectStep(n.step);
  }

  function selectParam(name) {
    clearHighlight();
    S.selected = { param: name };
    graph.classList.add("dim");
    L().edges.forEach(function (e, i) { if (e.param === name && S.edgeEls[i]) S.edgeEls[i].classList.add("hl"); });
    L().nodes.forEach(function (n, i) { if (n.param === name && S.nodeEls[i]) S.nodeEls[i].classList.add("hl"); });
    drawBars();
  }

  function gradientPath(step) {  // nodes on a path from any node of `step` to the loss
    var lv = L(), n = lv.nodes.length, fwd = [], bwd = [], i;
    for (i = 0; i < n; i++) { fwd.push([]); bwd.push([]); }
    lv.edges.forEach(function (e) { if (e.kind !== "cut") { fwd[e.src].push(e.dst); bwd[e.dst].push(e.src); } });
    function reach(start, adj) {
      var seen = new Uint8Array(n), stack = start.slice();
      start.forEach(function (s) { seen[s] = 1; });
      while (stack.length) adj[stack.pop()].forEach(function (m) { if (!seen[m]) { seen[m] = 1; stack.push(m); } });
      return seen;
    }
    var start = [];
    lv.nodes.forEach(function (nd, j) { if (nd.step === step) start.push(j); });
    var down = reach(start, fwd), up = reach(lv.roots, bwd), path = [];
    for (i = 0; i < n; i++) if (down[i] && up[i]) path.push(i);
    return path;
  }

  function selectStep(step) {
    clearHighlight();
    S.selected = { step: step };
    graph.classList.add("dim");
    var path = gradientPath(step), on = {};
    path.forEach(function (i) { on[i] = 1; if (S.nodeEls[i]) S.nodeEls[i].classList.add("hl"); });
    L().edges.forEach(function (e, i) { if (on[e.src] && on[e.dst] && S.edgeEls[i]) S.edgeEls[i].classList.add("hl"); });
    panel.textContent = "";
    el("h2", {}, panel, "gradient path: loss → step t = " + tnum(step) + " (" + path.length + " nodes lit)");
    var steps = D.flow ? D.flow.scope_steps : [];
    var k0 = steps.indexOf(step);
    if (k0 < 0) { el("p", {}, panel, "no per-step state gradients for this graph"); drawPlots(); return; }
    var s = snap(), table = el("table", { id: "path-table" }, panel), head = el("tr", {}, table);
    ["t", "‖dL/dh_t‖", "‖dh_T/dh_t‖"].concat(s ? ["‖dL/dh_t‖ @ it " + s.iteration] : []).forEach(function (h) {
      el("th", {}, head, h);
    });
    for (var k = k0; k < steps.length; k++) {
      var row = el("tr", { "data-step": steps[k] }, table);
      el("td", {}, row, String(tnum(steps[k])));
      el("td", {}, row, num(D.flow.dl_dh[k]));
      el("td", {}, row, num(D.flow.dhT_dh[k]));
      if (s) el("td", {}, row, num(s.dl_dh[s.scope_steps.indexOf(steps[k])]));
    }
    drawPlots();
  }

  function showHint() {
    panel.textContent = "";
    el("p", { class: "hint" }, panel,
       "Hover a node or edge for its numbers. Click a shared parameter for its per-step contributions, " +
       "or a node of a time step for the gradient's path from the loss back to it.");
    drawPlots();
  }

  // --------------------------------------------------------------------------- bar chart
  function drawBars() {
    var name = S.selected.param, p = D.params[name], s = snap();
    var steps = p.steps, values = p.signed, where = "this input's backward pass";
    if (s && s.signed[name]) { steps = s.scope_steps; values = s.signed[name]; where = "iteration " + s.iteration; }
    panel.textContent = "";
    el("h2", {}, panel, name + ": contribution of each step's use (" + where + ")");
    var toggle = el("button", { id: "bar-scale", type: "button" }, panel, S.logBars ? "log scale" : "linear scale");
    toggle.addEventListener("click", function () { S.logBars = !S.logBars; drawBars(); });
    el("p", { class: "hint" }, panel, "signed: each use's gradient projected on .grad's direction; they add up to ‖grad‖ = " +
       num(values.reduce(function (a, b) { return a + (b || 0); }, 0)) + " (orange bars pull against it)");
    var W = 420, H = 170, m = 34, svg = sv("svg", { width: W, height: H, id: "bars", class: "plot" }, panel);
    var vals = values.map(function (v) { return v || 0; });
    var mags = vals.map(Math.abs), max = Math.max.apply(null, mags.concat([1e-300]));
    var pos = mags.filter(function (v) { return v > 0; }), min = Math.min.apply(null, pos.concat([max]));
    var lo = Math.log10(Math.max(min, max * 1e-12)), hi = Math.log10(max);
    if (hi - lo < 1) lo = hi - 1;
    var bw = (W - m - 6) / vals.length;
    vals.forEach(function (v, j) {
      var f = S.logBars ? (v === 0 ? 0 : (Math.log10(Math.abs(v)) - lo) / (hi - lo)) : Math.abs(v) / max;
      var h = Math.max(0, f) * (H - 2 * m + 20);
      sv("rect", { x: m + j * bw, y: H - m - h, width: Math.max(bw - 1, 0.5), height: h,
                   fill: v < 0 ? "#f08c28" : "#6a51a3", "data-step": steps[j] }, svg);
    });
    axes(svg, W, H, m, "step t", S.logBars ? "|signed| (log)" : "|signed|", tnum(steps[0]), tnum(steps[steps.length - 1]),
         S.logBars ? Math.pow(10, lo) : 0, max);
  }

  // ---------------------------------------------------------------------------- plots
  // Steps as the equations and drawings number them: scope(step=s) writes h_(s+1), so it is step s + 1.
  function tnum(s) { return s + 1; }

  function axes(svg, W, H, m, xl, yl, x0, x1, y0, y1) {
    sv("line", { x1: m, y1: H - m, x2: W - 4, y2: H - m, class: "axis" }, svg);
    sv("line", { x1: m, y1: 8, x2: m, y2: H - m, class: "axis" }, svg);
    sv("text", { x: W / 2, y: H - 6, "text-anchor": "middle" }, svg, xl);
    sv("text", { x: 4, y: 14 }, svg, yl);
    sv("text", { x: m, y: H - m + 13, "text-anchor": "middle" }, svg, String(x0));
    sv("text", { x: W - 6, y: H - m + 13, "text-anchor": "end" }, svg, String(x1));
    sv("text", { x: m - 3, y: H - m, "text-anchor": "end" }, svg, num(y0));
    sv("text", { x: m - 3, y: 18, "text-anchor": "end" }, svg, num(y1));
  }

  function plot(id, title, series, opts) {
    var W = 420, H = 150, m = 52;
    var box = el("div", { class: "plotbox" }, plots);
    el("div", { class: "plottitle" }, box, title);
    var svg = sv("svg", { width: W, height: H, id: id, class: "plot" }, box);
    var xs = [], ys = [];
    series.forEach(function (s) { if (s.noscale) return; s.xs.forEach(function (x, j) {
      var y = s.ys[j];
      if (y === null || y === undefined || (opts.log && !(y > 0))) return;
      xs.push(x); ys.push(y);
    }); });
    if (!xs.length) { sv("text", { x: 10, y: 40 }, svg, "no data"); return; }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = opts.ymin !== undefined ? opts.ymin : Math.min.apply(null, ys);
    var y1 = opts.ymax !== undefined ? opts.ymax : Math.max.apply(null, ys);
    if (opts.log) { y0 = Math.max(y0, y1 * 1e-15); }
    var fy = opts.log ? function (y) { return Math.log10(y); } : function (y) { return y; };
    var a = fy(y0), b = fy(y1);
    if (b - a < 1e-12) { a -= 1; b += 1; }
    var X = function (x) { return m + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (W - m - 8); };
    var Y = function (y) { return H - m - (Math.min(fy(Math.max(y, y0)), b) - a) / (b - a) * (H - m - 10); };
    series.forEach(function (s) {
      var pts = [];
      s.xs.forEach(function (x, j) {
        var y = s.ys[j];
        if (y === null || y === undefined || (opts.log && !(y > 0))) return;
        pts.push(X(x).toFixed(1) + "," + Y(y).toFixed(1));
      });
      sv("polyline", { points: pts.join(" "), fill: "none", stroke: s.colour, "stroke-width": 1.5,
                       "stroke-dasharray": s.dash || "", class: s.cls || "" }, svg);
    });
    (opts.markers || []).forEach(function (p) {
      if (p.y === null || p.y === undefined) return;
      sv("circle", { cx: X(p.x), cy: Y(p.y), r: 4, fill: p.colour || "#a50f15", class: "marker" }, svg);
    });
    axes(svg, W, H, m, opts.xlabel, opts.ylabel, x0, x1, y0, y1);
    var ly = 12;
    series.forEach(function (s) {
      if (!s.name) return;
      sv("line", { x1: W - 130, y1: ly - 4, x2: W - 112, y2: ly - 4, stroke: s.colour, "stroke-dasharray": s.dash || "" }, svg);
      sv("text", { x: W - 108, y: ly }, svg, s.name);
      ly += 12;
    });
  }

  function drawPlots() {
    plots.textContent = "";
    if (D.map) drawMap();
    var s = snap(), f = D.flow;
    var steps = s ? s.scope_steps : (f ? f.scope_steps : null);
    if (steps && steps.length) {
      var T = steps[steps.length - 1], back = steps.map(function (t) { return T - t; });
      var series = [], dl = s ? s.dl_dh : f.dl_dh;
      series.push({ xs: back, ys: dl, colour: "#6a51a3", name: "‖dL/dh_t‖" + (s ? " @ it " + s.iteration : ""), cls: "dl" });
      if (f) series.push({ xs: f.scope_steps.map(function (t) { return T - t; }), ys: f.dhT_dh, colour: "#2b8cbe",
                           dash: "4 3", name: "‖dh_T/dh_t‖" });
      var rho = s ? s.radius : (f ? f.radius : null);
      if (rho) series.push({ xs: back, ys: back.map(function (k) { return dl[dl.length - 1] * Math.pow(rho, k); }),
                             colour: "#999999", dash: "2 3", name: "ρ^k, ρ = " + num(rho), noscale: true });
      var markers = [];
      if (S.selected && S.selected.step !== undefined) {
        var k = steps.indexOf(S.selected.step);
        if (k >= 0) markers.push({ x: T - steps[k], y: dl[k] });
      }
      plot("plot-flow", "gradient norm vs steps back (log scale)", series,
           { log: true, xlabel: "steps back T - t", ylabel: "norm", markers: markers });
    }
    if (D.snapshots.length) {
      var its = D.snapshots.map(function (q) { return q.iteration; });
      var losses = D.snapshots.map(function (q) { return q.loss; });
      plot("plot-loss", "loss during training", [{ xs: its, ys: losses, colour: "#555555" }],
           { xlabel: "iteration", ylabel: "loss", markers: s ? [{ x: s.iteration, y: s.loss }] : [] });
      var gates = s ? Object.keys(s.gates) : [];
      if (gates.length) {
        var colours = { f: "#a50f15", i: "#2b8cbe", o: "#31a354", z: "#a50f15", r: "#2b8cbe" };
        plot("plot-gates", "mean gate activation per step @ it " + s.iteration,
             gates.map(function (g) { return { xs: s.scope_steps.map(tnum), ys: s.gates[g], colour: colours[g] || "#777", name: g + "_t" }; }),
             { xlabel: "step t", ylabel: "mean", ymin: 0, ymax: 1 });
      }
    }
  }

  function drawMap() {  // the (loss step t x use step k) map: ‖part of dL_t/dW through the use at k‖, log colour
    var M = D.map, n = M.norms.length, k = M.use_steps.length, cell = Math.max(3, Math.min(14, Math.floor(360 / Math.max(n, k))));
    var box = el("div", { class: "plotbox" }, plots);
    el("div", { class: "plottitle" }, box, "(loss step t × use step k) map of " + M.param + ", ‖·‖ (log colour)");
    var W = 60 + k * cell, H = 40 + n * cell, svg = sv("svg", { width: W, height: H, id: "plot-map", class: "plot" }, box);
    var all = [];
    M.norms.forEach(function (row) { row.forEach(function (v) { if (v > 0) all.push(v); }); });
    var hi = Math.log10(Math.max.apply(null, all.concat([1e-300]))), lo = hi - 8;
    var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    function colour(v) {
      if (!(v > 0)) return "#f4f4f4";
      var f = Math.min(Math.max((Math.log10(v) - lo) / (hi - lo), 0), 1) * (stops.length - 1), i = Math.min(Math.floor(f), stops.length - 2), w = f - i;
      return "rgb(" + [0, 1, 2].map(function (c) { return Math.round(stops[i][c] + (stops[i + 1][c] - stops[i][c]) * w); }).join(",") + ")";
    }
    M.norms.forEach(function (row, t) {
      row.forEach(function (v, j) {
        var r = sv("rect", { x: 50 + j * cell, y: 8 + t * cell, width: cell, height: cell, fill: colour(v),
                             "data-t": t, "data-k": M.use_steps[j], "data-value": v === null ? "" : v }, svg);
        sv("title", {}, r, "loss step " + t + ", use step " + M.use_steps[j] + ": " + num(v));
      });
    });
    sv("text", { x: 50, y: H - 14 }, svg, "use step k →");
    sv("text", { x: 2, y: 18 }, svg, "loss t ↓");
  }

  // --------------------------------------------------------------------------- slider
  function paint(g, colour, what) {
    g.querySelectorAll(what === "node" ? "polygon, ellipse, path" : "path").forEach(function (shape) {
      if (what === "node") shape.setAttribute("fill", colour);
      else shape.setAttribute("stroke", colour);
    });
    if (what === "edge") g.querySelectorAll("polygon").forEach(function (head) {
      head.setAttribute("fill", colour); head.setAttribute("stroke", colour);
    });
    g.setAttribute("data-colour", colour);
  }

  function recolour() {
    var C = D.colours;
    if (!C || !C.frames.length) return;
    var frame = C.frames[S.snapshot][S.level];
    Object.keys(frame.nodes).forEach(function (i) { if (S.nodeEls[i]) paint(S.nodeEls[i], C.table[frame.nodes[i]], "node"); });
    Object.keys(frame.edges).forEach(function (i) { if (S.edgeEls[i]) paint(S.edgeEls[i], C.table[frame.edges[i]], "edge"); });
  }

  function setSnapshot(k) {
    S.snapshot = k;
    var s = snap();
    scrubText.textContent = "iteration " + s.iteration + ", loss " + num(s.loss) +
      " (" + (k + 1) + " of " + D.snapshots.length + " snapshots)";
    recolour();
    if (S.selected && S.selected.param) drawBars();
    else if (S.selected && S.selected.step !== undefined) selectStep(S.selected.step);
    else drawPlots();
  }

  window.explorer = { state: S, setLevel: setLevel, setSnapshot: setSnapshot, selectStep: selectStep,
                      selectParam: selectParam, gradientPath: gradientPath };
  setLevel(S.level);
  if (D.snapshots.length) setSnapshot(D.snapshots.length - 1);
})();
