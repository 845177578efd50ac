// The workbench (restore page): a pipeline form built from the operations' own schemas, and
// tools on the image (colour hints, mask brush, crop and rotate by dragging). No build step.
// What is submitted is exactly the API's `steps` (hidden field pipeline_json).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const readJSON = (id) => JSON.parse($(id).textContent);
  const form = $("pipeline-form");
  if (!form || !$("operation-specs")) return;

  const SPECS = readJSON("operation-specs");
  const BY_NAME = Object.fromEntries(SPECS.map((s) => [s.name, s]));
  const IMAGE = $("stage-image") ? readJSON("stage-image") : { id: 0, width: 1, height: 1 };
  const TEXT = readJSON("workbench-text");
  const CITATIONS = $("hint-citations") ? readJSON("hint-citations") : [];
  const fmt = (t, v) => t.replace(/%\((\w+)\)s/g, (_, k) => String(v[k]));
  const csrf = () => form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k in node && typeof v !== "string") node[k] = v;
      else node.setAttribute(k, v === true ? "" : v);
    });
    children.flat().forEach((c) => node.append(c));
    return node;
  };

  // ---- the stage: the input image, with tools bound to one step's parameter ---------------
  const stage = $("stage");
  const stageImg = $("stage-img");
  const overlay = $("stage-overlay");
  const maskCanvas = $("mask-canvas");
  const help = $("stage-help");
  const W = IMAGE.width;
  const H = IMAGE.height;
  const unit = Math.max(1, Math.round(Math.max(W, H) / 400)); // one "screen pixel" in input px
  let tool = null; // {kind: "hints"|"mask"|"crop"|"rotate", row}
  let cursor = { x: Math.round(W / 2), y: Math.round(H / 2), shown: false };

  function toImage(ev) {
    const r = stage.getBoundingClientRect();
    const x = Math.round(((ev.clientX - r.left) / r.width) * W);
    const y = Math.round(((ev.clientY - r.top) / r.height) * H);
    return { x: Math.max(0, Math.min(W - 1, x)), y: Math.max(0, Math.min(H - 1, y)) };
  }

  const GEOMETRY_OPS = ["crop", "rotate", "upscale", "sr"];
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, String(v)));
    return node;
  }

  // ---- geometry: where a pixel of the shown input lands in a later step's input ------------
  // The same maths as web/geometry.py (step_matrix, compose) and the operations' output_shape;
  // tests/web/test_workbench_geometry_browser.py checks one against the other. A map is
  // [[a, b, c], [d, e, f]]: (x, y) -> (a x + b y + c, d x + e y + f), continuous pixels.
  const IDENT = [[1, 0, 0], [0, 1, 0]];
  function compose(second, first) {
    const [[a, b, c], [d, e, f]] = second;
    const [[g, h, i], [j, k, m]] = first;
    return [[a * g + b * j, a * h + b * k, a * i + b * m + c], [d * g + e * j, d * h + e * k, d * i + e * m + f]];
  }
  function invert(m) {
    const [[a, b, c], [d, e, f]] = m;
    const det = a * e - b * d;
    return [[e / det, -b / det, (b * f - c * e) / det], [-d / det, a / det, (c * d - a * f) / det]];
  }
  const apply = (m, x, y) => [m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2]];
  const pyMod = (a, n) => ((a % n) + n) % n;
  const roundHalfEven = (v) => { const f = Math.floor(v); const d = v - f; return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f; };
  function stepMatrix(op, params, size, out) {
    const [w, h] = size, [ow, oh] = out;
    if (op === "crop" && params.rect && typeof params.rect === "object") return [[1, 0, -Number(params.rect.x)], [0, 1, -Number(params.rect.y)]];
    if (op === "rotate" && "angle" in params) {
      const t = (Number(params.angle) * Math.PI) / 180, cos = Math.cos(t), sin = Math.sin(t);
      const cx = w / 2, cy = h / 2;
      return [[cos, sin, ow / 2 - cos * cx - sin * cy], [-sin, cos, oh / 2 + sin * cx - cos * cy]];
    }
    if ((w !== ow || h !== oh) && w && h) return [[ow / w, 0, 0], [0, oh / h, 0]];
    return IDENT;
  }
  // The size a step gives its output, as the operation's output_shape; null when the form
  // cannot know it (sr: the model's scale; a crop without its rectangle).
  function outputSize(op, params, [w, h]) {
    if (op === "crop") {
      const r = params.rect;
      return r && r.width > 0 && r.height > 0 ? [r.width, r.height] : null;
    }
    if (op === "rotate") {
      if (typeof params.angle !== "number") return null;
      const angle = pyMod(params.angle, 360);
      if (pyMod(angle, 180) === 90) return [h, w];
      if (pyMod(angle, 90) === 0 || params.expand === false) return [w, h];
      const cos = Math.abs(Math.cos((angle * Math.PI) / 180)), sin = Math.abs(Math.sin((angle * Math.PI) / 180));
      return [Math.ceil(w * cos + h * sin), Math.ceil(w * sin + h * cos)];
    }
    if (op === "upscale") {
      const s = typeof params.scale === "number" ? params.scale : 2.0;
      return [roundHalfEven(w * s), roundHalfEven(h * s)];
    }
    if (op === "sr") return null;
    return [w, h];
  }
  // The map from the shown input to the input of the step after `steps`, and that image's size.
  function pipelineMap(steps, size) {
    let m = IDENT, cur = size;
    for (const s of steps) {
      const out = outputSize(s.op, s.params || {}, cur);
      if (!out) return null;
      m = compose(stepMatrix(s.op, s.params || {}, cur, out), m);
      cur = out;
    }
    return { fwd: m, inv: invert(m), size: cur, scale: Math.sqrt(Math.abs(m[0][0] * m[1][1] - m[0][1] * m[1][0])) || 1 };
  }
  const isIdentity = (m) => m.flat().every((v, i) => Math.abs(v - IDENT.flat()[i]) < 1e-12);
  window.workbenchGeometry = { compose, invert, stepMatrix, outputSize, pipelineMap };

  // The map for the hint tool's row, from the steps before it in this form.
  function hintMap(row) {
    const before = rows.slice(0, rows.indexOf(row)).map((r) => ({ op: r.opSelect.value, params: r.collect() }));
    return pipelineMap(before, [W, H]) || pipelineMap([], [W, H]);
  }
  // A shown-input point into the step's pixels (what is submitted), clamped to its image.
  function toStep(map, x, y) {
    const [u, v] = apply(map.fwd, x, y);
    return [Math.max(0, Math.min(map.size[0] - 1, Math.round(u))), Math.max(0, Math.min(map.size[1] - 1, Math.round(v)))];
  }
  const toShown = (map, x, y) => apply(map.inv, x, y);
  // A hint as it lies on the shown input (for drawing and the preview on that input).
  function shownHint(map, h) {
    const out = { ...h, radius: Math.round(h.radius / map.scale) };
    if (h.points) out.points = h.points.map(([x, y]) => toShown(map, x, y).map((v) => Math.round(v * 10) / 10));
    else [out.x, out.y] = toShown(map, h.x, h.y).map((v) => Math.round(v * 10) / 10);
    return out;
  }

  // The preview runs on the shown input: whole pixels inside it.
  function previewHint(h) {
    const px = ([x, y]) => [Math.max(0, Math.min(W - 1, Math.round(x))), Math.max(0, Math.min(H - 1, Math.round(y)))];
    const out = { ...h };
    if (h.points) out.points = h.points.map(px);
    else [out.x, out.y] = px([h.x, h.y]);
    return out;
  }

  function setTool(kind, row) {
    if (!stage) return;
    tool = kind ? { kind, row } : null;
    $("hint-tools").hidden = kind !== "hints";
    $("mask-tools").hidden = kind !== "mask";
    maskCanvas.hidden = kind !== "mask";
    stage.dataset.tool = kind || "";
    document.querySelectorAll(".tool-button").forEach((b) => {
      b.setAttribute("aria-pressed", String(!!tool && b.dataset.tool === kind && b.closest(".pipeline-row") === row.node));
    });
    help.textContent = kind ? TEXT[kind + "Help"] : "";
    // The stage shows the job's input: a tool used after a step that changes the geometry
    // would place its marks in the wrong pixels, so say so.
    // Hints are converted through the earlier steps' geometry when the form knows it (crop,
    // rotate, upscale); the other tools, and hints after an sr step, still warn.
    const before = kind ? rows.slice(0, rows.indexOf(row)).map((r) => r.opSelect.value) : [];
    const mapped = kind === "hints" && pipelineMap(rows.slice(0, rows.indexOf(row)).map((r) => ({ op: r.opSelect.value, params: r.collect() })), [W, H]);
    if (before.some((op) => GEOMETRY_OPS.includes(op)) && !mapped) help.textContent += " " + TEXT.geometryWarning;
    if (kind === "hints") {
      row.moving = false;
      stage.dataset.hintMap = mapped ? JSON.stringify(mapped.size) : "";
      if (mapped && !isIdentity(mapped.fwd)) help.textContent += " " + fmt(TEXT.hintsMapped, { w: mapped.size[0], h: mapped.size[1] });
    }
    if (kind === "hints") renderHintList();
    if (kind !== "rotate") stageImg.style.transform = "";
    draw();
    if (kind) stage.focus({ preventScroll: true });
  }

  function draw() {
    overlay.replaceChildren();
    const stroke = Math.max(1, unit);
    if (tool && tool.kind === "hints") {
      const map = hintMap(tool.row);
      const hints = tool.row.hints.map((h) => shownHint(map, h));
      if (!isIdentity(map.fwd)) {
        // The image the step receives, outlined on the shown input (after a crop, rotation...).
        const [ow, oh] = map.size;
        const corners = [[0, 0], [ow, 0], [ow, oh], [0, oh]].map(([x, y]) => toShown(map, x, y).join(","));
        overlay.append(svg("polygon", { points: corners.join(" "), fill: "none", stroke: "#f5a623", "stroke-width": 2 * stroke, "stroke-dasharray": `${6 * unit} ${4 * unit}`, id: "hint-target" }));
      }
      hints.forEach((h, i) => {
        const selected = i === tool.row.selected;
        const r = Math.max(h.radius, 4 * unit);
        const common = { stroke: selected ? "#f5a623" : "#fff", "stroke-width": stroke * (selected ? 3 : 1.5) };
        if (h.points) {
          const pts = h.points.map((p) => p.join(",")).join(" ");
          overlay.append(svg("polyline", { points: pts, fill: "none", stroke: "#fff", "stroke-width": Math.max(2 * h.radius, 4 * unit) + 2 * stroke, "stroke-linecap": "round", "stroke-linejoin": "round" }));
          overlay.append(svg("polyline", { points: pts, fill: "none", stroke: h.color, "stroke-width": Math.max(2 * h.radius, 4 * unit), "stroke-linecap": "round", "stroke-linejoin": "round", class: "hint-mark", "data-index": i }));
          if (selected) overlay.append(svg("circle", { cx: h.points[0][0], cy: h.points[0][1], r, fill: "none", ...common }));
        } else {
          overlay.append(svg("circle", { cx: h.x, cy: h.y, r, fill: h.color, ...common, class: "hint-mark", "data-index": i }));
        }
        const label = svg("text", { x: (h.points ? h.points[0][0] : h.x) + r + 2 * unit, y: (h.points ? h.points[0][1] : h.y) - r, "font-size": 12 * unit, fill: "#fff", stroke: "#000", "stroke-width": unit / 2 });
        label.textContent = String(i + 1);
        overlay.append(label);
      });
    }
    if (tool && tool.kind === "crop") {
      const rect = tool.row.values.rect;
      if (rect && rect.width > 0) {
        overlay.append(svg("path", { d: `M0,0H${W}V${H}H0Z M${rect.x},${rect.y}v${rect.height}h${rect.width}v${-rect.height}Z`, fill: "rgba(0,0,0,.45)", "fill-rule": "evenodd" }));
        overlay.append(svg("rect", { x: rect.x, y: rect.y, width: rect.width, height: rect.height, fill: "none", stroke: "#f5a623", "stroke-width": 2 * stroke, id: "crop-rect" }));
      }
    }
    if (tool && cursor.shown) {
      const c = 8 * unit;
      overlay.append(svg("path", { d: `M${cursor.x - c},${cursor.y}h${2 * c}M${cursor.x},${cursor.y - c}v${2 * c}`, stroke: "#f5a623", "stroke-width": 2 * stroke, id: "stage-cursor" }));
    }
  }

  // ---- colour hints --------------------------------------------------------------------------
  const hintColor = $("hint-color");
  const hintRadius = $("hint-radius");
  const hintCitation = $("hint-citation");

  function newHint(base) {
    const hint = { ...base, color: hintColor.value.toLowerCase(), radius: Math.max(0, Math.min(256, parseInt(hintRadius.value, 10) || 0)) };
    if (hintCitation.value) hint.citation = parseInt(hintCitation.value, 10);
    return hint;
  }

  function addHint(hint) {
    tool.row.hints.push(hint);
    tool.row.selected = tool.row.hints.length - 1;
    tool.row.moving = false; // a new hint is selected (Delete removes it), arrows move the cross
    hintsChanged(tool.row);
  }

  function hintsChanged(row) {
    if (row.hintsSummary) row.hintsSummary.textContent = fmt(TEXT.hintsCount, { n: row.hints.length });
    if (tool && tool.row === row && tool.kind === "hints") renderHintList();
    draw();
  }

  function renderHintList() {
    const list = $("hint-list");
    const row = tool.row;
    list.replaceChildren(...row.hints.map((h, i) => {
      const where = h.points ? fmt(TEXT.stroke, { n: h.points.length }) : `${TEXT.point} ${h.x}, ${h.y}`;
      const color = el("input", { type: "color", value: h.color, "aria-label": `${i + 1}: ${hintColor.labels[0].textContent}` });
      color.addEventListener("input", () => { h.color = color.value.toLowerCase(); draw(); });
      const cite = el("select", { "aria-label": `${i + 1}: ${hintCitation.labels[0].textContent}` },
        el("option", { value: "", text: TEXT.none }),
        CITATIONS.map((c) => el("option", { value: String(c.id), text: c.label.slice(0, 60), selected: h.citation === c.id })));
      cite.addEventListener("change", () => { if (cite.value) h.citation = parseInt(cite.value, 10); else delete h.citation; });
      const select = el("button", { type: "button", class: "secondary", text: `${i + 1}`, "aria-label": `${TEXT.select} ${i + 1}`, "aria-pressed": String(i === row.selected) });
      select.addEventListener("click", () => { row.selected = i; row.moving = true; help.textContent = TEXT.hintsHelp; renderHintList(); draw(); stage.focus({ preventScroll: true }); });
      const remove = el("button", { type: "button", class: "secondary remove-hint", text: "✕", "aria-label": `${TEXT.remove} ${i + 1}` });
      remove.addEventListener("click", () => { row.hints.splice(i, 1); row.moving = false; row.selected = Math.min(row.selected, row.hints.length - 1); hintsChanged(row); });
      return el("li", { class: i === row.selected ? "selected" : "" }, select, el("span", { class: "where" }, el("span", { class: "swatch-small", style: `background:${h.color}` }), " ", where), color, remove, cite);
    }));
  }

  document.querySelectorAll(".swatch").forEach((b) => b.addEventListener("click", () => { hintColor.value = b.dataset.color; }));

  // Eyedropper: pick a colour from a reference image (thumbnail or the zoom viewer).
  const eyedropper = $("eyedropper");
  let dropping = false;
  eyedropper?.addEventListener("click", () => {
    dropping = !dropping;
    eyedropper.setAttribute("aria-pressed", String(dropping));
    document.body.classList.toggle("eyedropping", dropping);
    if (dropping) help.textContent = TEXT.eyedropperOn;
  });
  function pickFrom(img, ev) {
    const r = img.getBoundingClientRect();
    const c = document.createElement("canvas");
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    // Where the click falls in the picture's own pixels, whatever object-fit shows of it.
    const fit = getComputedStyle(img).objectFit;
    let sx = r.width / c.width, sy = r.height / c.height;
    if (fit === "contain" || fit === "cover") sx = sy = (fit === "contain" ? Math.min : Math.max)(sx, sy);
    const ox = (r.width - c.width * sx) / 2, oy = (r.height - c.height * sy) / 2;
    const x = Math.max(0, Math.min(c.width - 1, Math.floor((ev.clientX - r.left - ox) / sx)));
    const y = Math.max(0, Math.min(c.height - 1, Math.floor((ev.clientY - r.top - oy) / sy)));
    const d = ctx.getImageData(Math.max(0, x - 1), Math.max(0, y - 1), 3, 3).data;
    let rs = 0, gs = 0, bs = 0;
    for (let i = 0; i < d.length; i += 4) { rs += d[i]; gs += d[i + 1]; bs += d[i + 2]; }
    const n = d.length / 4;
    const hex = "#" + [rs, gs, bs].map((v) => Math.round(v / n).toString(16).padStart(2, "0")).join("");
    hintColor.value = hex;
    dropping = false;
    eyedropper.setAttribute("aria-pressed", "false");
    document.body.classList.remove("eyedropping");
    help.textContent = TEXT.hintsHelp;
    return hex;
  }

  $("hint-preview-button")?.addEventListener("click", async () => {
    const button = $("hint-preview-button");
    if (!tool || !tool.row.hints.length) return;
    button.disabled = true;
    button.dataset.state = "working";
    try {
      const resp = await fetch(`/artifacts/${IMAGE.id}/hints-preview.png`, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), "Content-Type": "application/json" },
        body: JSON.stringify({ hints: tool.row.hints.map((h) => previewHint(shownHint(hintMap(tool.row), h))) }),
      });
      if (!resp.ok) throw new Error((await resp.json()).message || resp.statusText);
      const blob = await resp.blob();
      $("hint-preview-img").src = URL.createObjectURL(blob);
      $("hint-preview").hidden = false;
      button.dataset.state = "done";
    } catch (err) {
      help.textContent = `${TEXT.failed} ${err.message}`;
      button.dataset.state = "failed";
    } finally {
      button.disabled = false;
    }
  });

  // ---- mask brush ----------------------------------------------------------------------------
  const mctx = maskCanvas ? maskCanvas.getContext("2d") : null;
  const brushSize = $("brush-size");
  const brushMode = () => document.querySelector("input[name=brush-mode]:checked").value;
  function paintLine(a, b) {
    mctx.globalCompositeOperation = brushMode() === "erase" ? "destination-out" : "source-over";
    mctx.strokeStyle = "rgba(230,20,20,1)";
    mctx.fillStyle = "rgba(230,20,20,1)";
    mctx.lineWidth = parseInt(brushSize.value, 10) * unit;
    mctx.lineCap = "round";
    mctx.beginPath();
    mctx.moveTo(a.x, a.y);
    mctx.lineTo(b.x + 0.01, b.y);
    mctx.stroke();
  }
  $("mask-clear")?.addEventListener("click", () => mctx.clearRect(0, 0, W, H));
  $("mask-auto")?.addEventListener("click", async () => {
    const status = $("mask-status");
    status.textContent = TEXT.working;
    const params = new URLSearchParams();
    if (tool && tool.row) Object.entries(tool.row.collect()).forEach(([k, v]) => { if (typeof v !== "object") params.set(k, String(v)); });
    try {
      const resp = await fetch(`/artifacts/${IMAGE.id}/auto-mask.png?${params}`, { credentials: "same-origin" });
      if (!resp.ok) throw new Error((await resp.json()).message || resp.statusText);
      const bitmap = await createImageBitmap(await resp.blob());
      const tmp = document.createElement("canvas");
      tmp.width = bitmap.width; tmp.height = bitmap.height;
      const tctx = tmp.getContext("2d");
      tctx.drawImage(bitmap, 0, 0);
      const data = tctx.getImageData(0, 0, tmp.width, tmp.height);
      for (let i = 0; i < data.data.length; i += 4) {
        const on = data.data[i] > 127;
        data.data[i] = 230; data.data[i + 1] = 20; data.data[i + 2] = 20; data.data[i + 3] = on ? 255 : 0;
      }
      tctx.putImageData(data, 0, 0);
      mctx.globalCompositeOperation = "source-over";
      mctx.imageSmoothingEnabled = false;
      mctx.drawImage(tmp, 0, 0, W, H);
      status.textContent = "";
      maskCanvas.dataset.auto = "1";
    } catch (err) {
      status.textContent = `${TEXT.failed} ${err.message}`;
    }
  });
  $("mask-save")?.addEventListener("click", async () => {
    const status = $("mask-status");
    const row = tool && tool.row;
    if (!row) return;
    status.textContent = TEXT.working;
    const out = document.createElement("canvas");
    out.width = W; out.height = H;
    const octx = out.getContext("2d");
    const src = mctx.getImageData(0, 0, W, H);
    const dst = octx.createImageData(W, H);
    for (let i = 0; i < src.data.length; i += 4) {
      const v = src.data[i + 3] > 127 ? 255 : 0;
      dst.data[i] = v; dst.data[i + 1] = v; dst.data[i + 2] = v; dst.data[i + 3] = 255;
    }
    octx.putImageData(dst, 0, 0);
    const blob = await new Promise((resolve) => out.toBlob(resolve, "image/png"));
    const body = new FormData();
    body.append("mask", blob, "mask.png");
    try {
      const resp = await fetch(`/artifacts/${IMAGE.id}/masks/`, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() }, body });
      const data = await resp.json();
      if (!resp.ok) throw new Error(data.message || resp.statusText);
      const select = row.inputs.mask;
      select.append(el("option", { value: String(data.id), text: data.label }));
      select.value = String(data.id);
      status.textContent = fmt(TEXT.saved, { id: data.id });
      status.dataset.mask = String(data.id);
    } catch (err) {
      status.textContent = `${TEXT.failed} ${err.message}`;
    }
  });

  // ---- moving a placed hint ------------------------------------------------------------------
  // The nearest hint under a shown-input point (within its drawn radius), or -1.
  function hitHint(map, p) {
    let best = -1, bestD = Infinity;
    tool.row.hints.forEach((h, i) => {
      const s = shownHint(map, h);
      const reach = Math.max(s.radius, 4 * unit) + 2 * unit;
      const pts = s.points || [[s.x, s.y]];
      pts.forEach(([x, y]) => {
        const d = Math.hypot(x - p.x, y - p.y);
        if (d <= reach && d < bestD) { best = i; bestD = d; }
      });
    });
    return best;
  }
  // Move hint `index` by (dx, dy) shown-input pixels from where it was (`shown`), converted into
  // the step's pixels; every other field of the hint is kept as it was.
  function moveHint({ index, map, shown }, dx, dy) {
    const h = tool.row.hints[index];
    if (shown.points) h.points = shown.points.map(([x, y]) => toStep(map, x + dx, y + dy));
    else [h.x, h.y] = toStep(map, shown.x + dx, shown.y + dy);
    hintsChanged(tool.row);
  }

  // ---- pointer and keyboard on the stage -------------------------------------------------------
  let drag = null;
  stage?.addEventListener("pointerdown", (ev) => {
    if (!tool) return;
    ev.preventDefault();
    stage.setPointerCapture(ev.pointerId);
    const p = toImage(ev);
    drag = { start: p, last: p, points: [[p.x, p.y]], moved: false, x0: ev.clientX, angle0: tool.row.values.angle || 0 };
    cursor = { ...p, shown: false };
    if (tool.kind === "hints") {
      // On a placed hint: select it and drag it (not a new hint).
      const map = hintMap(tool.row);
      const hit = hitHint(map, p);
      if (hit >= 0) {
        tool.row.selected = hit;
        tool.row.moving = true;
        drag.hint = { index: hit, map, shown: shownHint(map, tool.row.hints[hit]) };
        renderHintList();
        draw();
      }
    }
    if (tool.kind === "mask") paintLine(p, p);
  });
  stage?.addEventListener("pointermove", (ev) => {
    if (!drag || !tool) return;
    const p = toImage(ev);
    if (Math.hypot(ev.clientX - drag.x0, p.y - drag.start.y) > 4) drag.moved = true;
    if (tool.kind === "mask") paintLine(drag.last, p);
    if (tool.kind === "hints" && drag.hint) {
      if (drag.moved) moveHint(drag.hint, p.x - drag.start.x, p.y - drag.start.y);
    } else if (tool.kind === "hints" && drag.moved) {
      const prev = drag.points[drag.points.length - 1];
      if (Math.hypot(p.x - prev[0], p.y - prev[1]) >= 2 * unit) drag.points.push([p.x, p.y]);
      overlay.querySelector("#drag-line")?.remove();
      overlay.append(svg("polyline", { id: "drag-line", points: drag.points.map((q) => q.join(",")).join(" "), fill: "none", stroke: hintColor.value, "stroke-width": 4 * unit }));
    }
    if (tool.kind === "crop" && drag.moved) {
      tool.row.setRect({ x: Math.min(drag.start.x, p.x), y: Math.min(drag.start.y, p.y), width: Math.max(1, Math.abs(p.x - drag.start.x)), height: Math.max(1, Math.abs(p.y - drag.start.y)) });
      draw();
    }
    if (tool.kind === "rotate") {
      const r = stage.getBoundingClientRect();
      const angle = Math.round((drag.angle0 - ((ev.clientX - drag.x0) / r.width) * 180) * 10) / 10;
      tool.row.setAngle(Math.max(-360, Math.min(360, angle)));
    }
    drag.last = p;
  });
  stage?.addEventListener("pointerup", (ev) => {
    if (!drag || !tool) return;
    const p = toImage(ev);
    if (tool.kind === "hints" && drag.hint) {
      // a click on a hint only selects it; a drag has already moved it
    } else if (tool.kind === "hints") {
      const map = hintMap(tool.row);
      if (drag.moved && drag.points.length > 1) addHint(newHint({ points: drag.points.map(([x, y]) => toStep(map, x, y)) }));
      else { const [x, y] = toStep(map, p.x, p.y); addHint(newHint({ x, y })); }
    }
    drag = null;
  });
  stage?.addEventListener("keydown", (ev) => {
    if (!tool) return;
    const step = (ev.shiftKey ? 10 : 1) * Math.max(1, Math.round(Math.max(W, H) / 100));
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[ev.key]) {
      ev.preventDefault();
      if (tool.kind === "rotate") { tool.row.setAngle((tool.row.values.angle || 0) + (ev.key === "ArrowLeft" ? 1 : ev.key === "ArrowRight" ? -1 : 0) * (ev.shiftKey ? 10 : 1)); return; }
      const row = tool.row;
      if (tool.kind === "hints" && row.moving && row.hints[row.selected]) {
        // A hint picked (clicked on the image or its number in the list): arrows move it.
        const map = hintMap(row);
        moveHint({ index: row.selected, map, shown: shownHint(map, row.hints[row.selected]) }, moves[ev.key][0], moves[ev.key][1]);
        const h = row.hints[row.selected];
        help.textContent = h.points ? `${h.points[0][0]}, ${h.points[0][1]}` : `${h.x}, ${h.y}`;
        return;
      }
      cursor.x = Math.max(0, Math.min(W - 1, cursor.x + moves[ev.key][0]));
      cursor.y = Math.max(0, Math.min(H - 1, cursor.y + moves[ev.key][1]));
      cursor.shown = true;
      help.textContent = `${cursor.x}, ${cursor.y}`;
      draw();
    } else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      if (tool.kind === "hints") { const [x, y] = toStep(hintMap(tool.row), cursor.x, cursor.y); addHint(newHint({ x, y })); }
      if (tool.kind === "mask") paintLine(cursor, cursor);
      cursor.shown = true;
      draw();
    } else if ((ev.key === "Delete" || ev.key === "Backspace") && tool.kind === "hints" && tool.row.selected >= 0) {
      ev.preventDefault();
      tool.row.hints.splice(tool.row.selected, 1);
      tool.row.selected = tool.row.hints.length - 1;
      tool.row.moving = false;
      hintsChanged(tool.row);
    } else if (ev.key === "Escape") {
      if (tool.kind === "hints" && tool.row.moving) { tool.row.moving = false; renderHintList(); draw(); return; }
      setTool(null);
    }
  });

  // ---- the pipeline builder ------------------------------------------------------------------
  const builder = $("pipeline-builder");
  const rows = [];

  const toolButton = (row, kind, text, described) => {
    if (!stage) return [];
    const b = el("button", { type: "button", class: "secondary tool-button", "data-tool": kind, text, "aria-pressed": "false", "aria-describedby": described || null });
    b.addEventListener("click", () => setTool(tool && tool.kind === kind && tool.row === row ? null : kind, row));
    return [b];
  };

  function widget(row, p, value) {
    const id = `${row.id}-${p.name}`;
    const label = el("label", { for: id, text: p.label + (p.required ? " *" : "") });
    const helpText = p.help ? el("span", { class: "helptext", id: id + "-help", text: p.help }) : "";
    const described = p.help ? id + "-help" : null;
    const has = value !== undefined && value !== null;
    let input;
    let extra = [];
    switch (p.widget) {
      case "slider": {
        const v = has ? value : p.default;
        input = el("input", { type: "number", id, min: p.min, max: p.max, step: p.step, value: v ?? "", "aria-describedby": described, class: "num" });
        const range = el("input", { type: "range", min: p.min, max: p.max, step: p.step, value: v ?? p.min, "aria-label": p.label, tabindex: "-1" });
        range.addEventListener("input", () => { input.value = range.value; });
        input.addEventListener("input", () => { if (input.value !== "") range.value = input.value; });
        extra = [range];
        if (p.name === "angle") row.setAngle = (a) => { input.value = String(a); range.value = String(a); row.values.angle = a; if (stageImg) stageImg.style.transform = `rotate(${-a}deg)`; };
        break;
      }
      case "number":
        input = el("input", { type: "number", id, step: p.step, min: p.min, max: p.max, value: has ? value : p.default ?? "", "aria-describedby": described, class: "num" });
        break;
      case "checkbox":
        input = el("input", { type: "checkbox", id, checked: has ? !!value : !!p.default, "aria-describedby": described });
        break;
      case "choice":
        input = el("select", { id, "aria-describedby": described }, p.choices.map((c) => el("option", { value: String(c.value), text: c.label, selected: String(has ? value : p.default) === String(c.value) })));
        break;
      case "model":
        input = el("select", { id, "aria-describedby": described }, p.required ? [] : el("option", { value: "", text: TEXT.none }), p.choices.map((c) => el("option", { value: c.value, text: c.label, selected: String(value) === String(c.value) })));
        if (!p.choices.length) extra = [el("span", { class: "errorlist", text: TEXT.noModel })];
        break;
      case "artifact": {
        input = el("select", { id, "aria-describedby": described }, el("option", { value: "", text: TEXT.none }), p.choices.map((c) => el("option", { value: String(c.value), text: c.label, selected: String(value) === String(c.value) })));
        if (p.name === "mask") {
          extra = toolButton(row, "mask", TEXT.paintMask);
        }
        break;
      }
      case "hints": {
        row.hints = Array.isArray(value) ? value.map((h) => ({ ...h })) : [];
        row.selected = row.hints.length - 1;
        row.hintsSummary = el("span", { id, class: "hints-summary", text: fmt(TEXT.hintsCount, { n: row.hints.length }), "aria-live": "polite" });
        input = row.hintsSummary;
        extra = toolButton(row, "hints", TEXT.editHints, described);
        break;
      }
      case "rect": {
        const r = value || {};
        const boxes = ["x", "y", "width", "height"].map((k) => el("input", { type: "number", min: k === "x" || k === "y" ? 0 : 1, value: r[k] ?? "", "aria-label": `${p.label} ${k}`, class: "num rect-" + k, id: k === "x" ? id : null }));
        row.setRect = (rect) => { ["x", "y", "width", "height"].forEach((k, i) => { boxes[i].value = String(rect[k]); }); row.values.rect = rect; };
        boxes.forEach((b) => b.addEventListener("input", () => { row.values.rect = readRect(); draw(); }));
        const readRect = () => { const v = boxes.map((b) => parseInt(b.value, 10)); return v.some(Number.isNaN) ? null : { x: v[0], y: v[1], width: v[2], height: v[3] }; };
        row.values.rect = readRect();
        input = el("span", { class: "rect-boxes" }, boxes);
        row.readers[p.name] = () => readRect();
        extra = toolButton(row, "crop", TEXT.dragCrop);
        break;
      }
      default:
        input = el("input", { type: "text", id, value: has ? value : p.default ?? "", "aria-describedby": described });
    }
    if (p.name === "angle") {
      extra.push(...toolButton(row, "rotate", TEXT.dragRotate));
      row.values.angle = parseFloat(input.value) || 0;
      input.addEventListener("input", () => row.setAngle && row.setAngle(parseFloat(input.value) || 0));
    }
    row.inputs[p.name] = input;
    return el("div", { class: "param param-" + p.widget, "data-param": p.name }, label, input, extra, helpText);
  }

  function readParam(row, p) {
    if (row.readers[p.name]) return row.readers[p.name]();
    const input = row.inputs[p.name];
    switch (p.widget) {
      case "checkbox": return input.checked;
      case "hints": return row.hints.map((h) => ({ ...h }));
      case "slider":
      case "number": {
        if (input.value === "") return undefined;
        const n = Number(input.value);
        return p.type === "int" ? Math.round(n) : n;
      }
      case "artifact": return input.value === "" ? undefined : parseInt(input.value, 10);
      case "choice": {
        const c = p.choices.find((x) => String(x.value) === input.value);
        return c ? c.value : input.value;
      }
      default: return input.value === "" ? undefined : input.value;
    }
  }

  function addRow(step) {
    const index = rows.length;
    const row = { id: `step-${index}-${Math.random().toString(36).slice(2, 7)}`, inputs: {}, readers: {}, values: {}, hints: [] };
    const op = el("select", { id: row.id + "-op", class: "op-select" }, SPECS.map((s) => el("option", { value: s.name, disabled: !s.available, text: s.label + (s.kind === "ai" ? " (AI)" : "") + (s.available ? "" : ` — ${TEXT.unavailable}`), selected: s.name === step.op })));
    const desc = el("p", { class: "helptext op-description" });
    const params = el("div", { class: "params" });
    const remove = el("button", { type: "button", class: "secondary remove-step", text: "✕", "aria-label": TEXT.remove });
    const number = el("span", { class: "step-number" });
    const node = el("li", { class: "pipeline-row" }, el("div", { class: "row-head" }, el("label", { for: op.id }, TEXT.operation, " ", number), op, remove), desc, params);
    row.node = node;
    row.opSelect = op;
    const build = (values) => {
      const spec = BY_NAME[op.value];
      if (tool && tool.row === row) setTool(null);
      if (stageImg) stageImg.style.transform = "";
      row.inputs = {}; row.readers = {}; row.values = {}; row.hints = []; row.hintsSummary = null;
      desc.textContent = spec.description + (spec.available ? "" : ` (${spec.reason})`);
      params.replaceChildren(...spec.params.map((p) => widget(row, p, values ? values[p.name] : undefined)));
      node.dataset.op = spec.name;
    };
    row.collect = () => {
      const spec = BY_NAME[op.value];
      const out = {};
      spec.params.forEach((p) => {
        const v = readParam(row, p);
        if (v === undefined || v === null || (Array.isArray(v) && !v.length && p.widget !== "hints")) return;
        if (p.widget === "hints" && !v.length) return;
        out[p.name] = v;
      });
      return out;
    };
    // Defaults follow the operation: a new choice rebuilds the parameters from its schema.
    op.addEventListener("change", () => build(null));
    remove.addEventListener("click", () => {
      if (rows.length <= 1) return;
      if (tool && tool.row === row) setTool(null);
      rows.splice(rows.indexOf(row), 1);
      node.remove();
      renumber();
    });
    build(step.params || {});
    rows.push(row);
    builder.append(node);
    renumber();
    return row;
  }

  function renumber() {
    rows.forEach((r, i) => { r.node.querySelector(".step-number").textContent = String(i + 1); });
  }

  function pipeline() {
    return rows.map((r) => ({ op: r.opSelect.value, params: r.collect() }));
  }
  window.workbenchPipeline = pipeline; // for tests and the curious: exactly what is submitted

  $("add-step")?.addEventListener("click", () => {
    const row = addRow({ op: "denoise", params: {} });
    row.opSelect.focus();
  });
  form.addEventListener("submit", () => {
    $("pipeline-json").value = JSON.stringify(pipeline());
  });
  readJSON("initial-steps").forEach((s) => addRow(s));

  // ---- reference viewer (zoom, pan, eyedropper) ---------------------------------------------
  const viewer = $("ref-viewer");
  const vimg = $("ref-viewer-img");
  let zoom = 1, pan = { x: 0, y: 0 };
  const applyView = () => { vimg.style.transform = `translate(${pan.x}px, ${pan.y}px) scale(${zoom})`; };
  document.querySelectorAll(".ref-open").forEach((b) => {
    b.addEventListener("click", (ev) => {
      if (dropping) { pickFrom(b.querySelector("img"), ev); return; }
      vimg.src = b.dataset.src;
      vimg.alt = b.dataset.title;
      $("ref-viewer-title").textContent = b.dataset.title;
      zoom = 1; pan = { x: 0, y: 0 }; applyView();
      viewer.showModal();
    });
  });
  $("ref-viewer-close")?.addEventListener("click", () => viewer.close());
  viewer?.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => { zoom = Math.max(1, Math.min(12, zoom * parseFloat(b.dataset.zoom))); applyView(); }));
  const pane = $("ref-viewer-pane");
  pane?.addEventListener("wheel", (ev) => { ev.preventDefault(); zoom = Math.max(1, Math.min(12, zoom * (ev.deltaY < 0 ? 1.15 : 0.87))); applyView(); }, { passive: false });
  let panning = null;
  pane?.addEventListener("pointerdown", (ev) => {
    if (dropping) { pickFrom(vimg, ev); return; }
    panning = { x: ev.clientX - pan.x, y: ev.clientY - pan.y };
    pane.setPointerCapture(ev.pointerId);
  });
  pane?.addEventListener("pointermove", (ev) => { if (panning) { pan = { x: ev.clientX - panning.x, y: ev.clientY - panning.y }; applyView(); } });
  pane?.addEventListener("pointerup", () => { panning = null; });
})();
