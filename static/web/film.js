// The film page: two proxies played in sync (side by side or a wipe), frame stepping, a
// timeline of shots and keyframes, hints placed on frames for colorize_keyframes, and the
// pipeline form turned into the JSON list of steps that job_create checks.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("film-data").textContent);
  const before = document.getElementById("film-before");
  const after = document.getElementById("film-after");
  const stage = document.getElementById("film-stage");
  const main = after || before;
  const info = data.after || data.before;
  const fps = info.fps || 24;
  const frames = info.frames || 1;
  const out = document.getElementById("film-frame");
  const timeline = document.getElementById("film-timeline");
  const canvas = document.getElementById("film-hints");
  const keyframes = {}; // frame -> [{x, y, color, citation?}]

  function frameOf(t) { return Math.min(frames - 1, Math.max(0, Math.floor(t * fps + 1e-6))); }
  function seek(frame) {
    const f = Math.min(frames - 1, Math.max(0, frame));
    const t = (f + 0.5) / fps; // the middle of the frame: no rounding onto a neighbour
    main.currentTime = t;
    if (after) before.currentTime = t * (data.before.duration / Math.max(1e-6, info.duration) || 1);
    show(f);
  }
  function show(f) {
    out.value = String(f);
    out.textContent = String(f);
    timeline.setAttribute("aria-valuenow", String(f));
    const cursor = timeline.querySelector(".cursor");
    if (cursor) cursor.style.left = (100 * f / frames) + "%";
    drawHints(f);
  }
  // Keep the before video on the after video's clock (same time, not the same frame number:
  // a step may change the rate).
  if (after) {
    after.addEventListener("timeupdate", function () {
      const t = after.currentTime * (data.before.duration / Math.max(1e-6, info.duration) || 1);
      if (Math.abs(before.currentTime - t) > 0.5 / fps) before.currentTime = t;
      show(frameOf(after.currentTime));
    });
    after.addEventListener("play", function () { before.play(); });
    after.addEventListener("pause", function () { before.pause(); before.currentTime = after.currentTime * (data.before.duration / Math.max(1e-6, info.duration) || 1); });
  } else {
    before.addEventListener("timeupdate", function () { show(frameOf(before.currentTime)); });
  }
  document.getElementById("film-play").addEventListener("click", function (e) {
    if (main.paused) { main.play(); e.target.textContent = "❚❚"; } else { main.pause(); e.target.textContent = "▶"; }
  });
  document.getElementById("film-prev").addEventListener("click", function () { main.pause(); seek(frameOf(main.currentTime) - 1); });
  document.getElementById("film-next").addEventListener("click", function () { main.pause(); seek(frameOf(main.currentTime) + 1); });

  // Side by side or wipe.
  const mode = document.getElementById("film-mode");
  const wipe = document.getElementById("film-wipe");
  if (mode) {
    mode.addEventListener("change", function () {
      stage.classList.toggle("wipe", mode.value === "wipe");
      stage.classList.toggle("side", mode.value !== "wipe");
      wipe.hidden = mode.value !== "wipe";
      clip();
    });
    wipe.addEventListener("input", clip);
  }
  function clip() {
    if (!after) return;
    after.style.clipPath = stage.classList.contains("wipe") ? "inset(0 0 0 " + wipe.value + "%)" : "";
  }

  // Timeline: shots as alternating bands, keyframes as ticks, a cursor; click or arrows seek.
  function drawTimeline() {
    timeline.textContent = "";
    const shots = (info.shots && info.shots.length ? info.shots : [0]).concat([frames]);
    for (let i = 0; i + 1 < shots.length; i++) {
      const band = document.createElement("span");
      band.className = "shot" + (i % 2 ? " odd" : "");
      band.style.left = (100 * shots[i] / frames) + "%";
      band.style.width = (100 * (shots[i + 1] - shots[i]) / frames) + "%";
      band.title = "shot " + (i + 1) + ": " + shots[i] + "–" + (shots[i + 1] - 1);
      timeline.appendChild(band);
    }
    const keys = (info.keyframes || []).concat(Object.keys(keyframes).map(Number));
    keys.forEach(function (k) {
      const tick = document.createElement("span");
      tick.className = "key";
      tick.style.left = (100 * k / frames) + "%";
      tick.title = "keyframe " + k;
      timeline.appendChild(tick);
    });
    const cursor = document.createElement("span");
    cursor.className = "cursor";
    timeline.appendChild(cursor);
  }
  timeline.addEventListener("click", function (e) {
    const box = timeline.getBoundingClientRect();
    main.pause();
    seek(Math.floor(frames * (e.clientX - box.left) / box.width));
  });
  timeline.addEventListener("keydown", function (e) {
    if (e.key === "ArrowLeft") { seek(frameOf(main.currentTime) - 1); e.preventDefault(); }
    if (e.key === "ArrowRight") { seek(frameOf(main.currentTime) + 1); e.preventDefault(); }
  });

  // Hints: a click on the before picture places one at the current frame (pixel coordinates
  // of the film, not of the proxy).
  function drawHints(f) {
    const box = before.getBoundingClientRect();
    canvas.width = box.width; canvas.height = box.height;
    canvas.style.width = box.width + "px"; canvas.style.height = box.height + "px";
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    (keyframes[f] || []).forEach(function (h) {
      ctx.beginPath();
      ctx.arc(h.x * box.width / data.before.width, h.y * box.height / data.before.height, 6, 0, 2 * Math.PI);
      ctx.fillStyle = h.color; ctx.fill(); ctx.lineWidth = 2; ctx.strokeStyle = "#fff"; ctx.stroke();
    });
  }
  before.addEventListener("click", function (e) {
    if (!document.getElementById("film-form")) return;
    main.pause();
    const box = before.getBoundingClientRect();
    const f = frameOf(main.currentTime);
    const hint = {
      x: Math.round((e.clientX - box.left) * data.before.width / box.width),
      y: Math.round((e.clientY - box.top) * data.before.height / box.height),
      color: document.getElementById("hint-color").value,
    };
    const citation = document.getElementById("hint-citation").value;
    if (citation) hint.citation = Number(citation);
    (keyframes[f] = keyframes[f] || []).push(hint);
    listKeyframes(); drawTimeline(); show(f);
  });
  function listKeyframes() {
    const list = document.getElementById("keyframe-list");
    list.textContent = "";
    Object.keys(keyframes).forEach(function (f) {
      const li = document.createElement("li");
      li.textContent = "frame " + f + ": " + keyframes[f].length + " hint(s)";
      list.appendChild(li);
    });
  }

  // The form: the ticked operations, in page order, as [{op, params}].
  const form = document.getElementById("film-form");
  if (form) {
    form.addEventListener("submit", function () {
      const steps = [];
      form.querySelectorAll("input[name=op]:checked").forEach(function (box) {
        const op = box.value;
        const params = {};
        const fpsField = form.querySelector("[name='" + op + "-fps']");
        if (fpsField && fpsField.value) params.fps = fpsField.value;
        const still = form.querySelector("[name='per_frame-op']");
        if (op === "per_frame" && still && still.value) params.op = still.value;
        if (op === "colorize_keyframes") {
          params.keyframes = Object.keys(keyframes).map(function (f) { return { frame: Number(f), hints: keyframes[f] }; });
        }
        steps.push({ op: op, params: params });
      });
      document.getElementById("film-steps").value = JSON.stringify(steps);
    });
  }
  drawTimeline();
  show(0);
  main.addEventListener("loadeddata", function () { seek(0); });
})();
