// Progressive enhancement only: every page works without this file (plain links and forms).
"use strict";

function initCompare() {
  const box = document.getElementById("compare");
  const range = document.getElementById("compare-range");
  if (!box || !range) return;
  const set = (value) => {
    const v = Math.max(0, Math.min(100, Number(value)));
    box.style.setProperty("--pos", v + "%");
    range.value = String(v);
    range.setAttribute("aria-valuetext", Math.round(v) + "%");
  };
  range.addEventListener("input", () => set(range.value));
  // Dragging on the picture moves the divider too (mouse, pen and touch alike).
  let dragging = false;
  const fromPointer = (ev) => {
    const r = box.getBoundingClientRect();
    set(((ev.clientX - r.left) / r.width) * 100);
  };
  box.addEventListener("pointerdown", (ev) => { dragging = true; box.setPointerCapture(ev.pointerId); fromPointer(ev); });
  box.addEventListener("pointermove", (ev) => { if (dragging) fromPointer(ev); });
  box.addEventListener("pointerup", () => { dragging = false; });
  const select = document.getElementById("compare-select");
  if (select) select.addEventListener("change", () => select.form.submit());
  // Aligned through the recorded geometry: the ancestor is drawn at its own size, mapped by
  // the crops, rotations and resampling between the two, then scaled to the box.
  const align = () => {
    document.querySelectorAll(".compare[data-matrix]").forEach((pane) => {
      const img = pane.querySelector("img.aligned-before");
      if (!img || !pane.dataset.matrix) return;
      const scale = pane.clientWidth / Number(pane.dataset.afterWidth);
      img.style.width = pane.dataset.beforeWidth + "px";
      img.style.height = pane.dataset.beforeHeight + "px";
      img.style.transform = "scale(" + scale + ") " + pane.dataset.matrix;
    });
  };
  align();
  window.addEventListener("resize", align);
  const side = document.getElementById("compare-side");
  const wipeControls = document.getElementById("compare-wipe-controls");
  document.querySelectorAll("input[name=compare-view]").forEach((radio) => {
    radio.addEventListener("change", () => {
      const view = radio.value;
      box.hidden = view === "side";
      if (side) side.hidden = view !== "side";
      if (wipeControls) wipeControls.hidden = view !== "wipe";
      box.classList.toggle("difference", view === "difference");
      box.dataset.view = view;
      align();
    });
  });
}

function openStep(id, focus) {
  const panel = document.getElementById("step-" + id);
  if (!panel || !panel.classList.contains("step-detail")) return;
  document.querySelectorAll(".step-detail.open").forEach((p) => p.classList.remove("open"));
  document.querySelectorAll(".step-node.selected").forEach((n) => n.classList.remove("selected"));
  panel.classList.add("open");
  const node = document.querySelector('.step-node[data-step="' + id + '"]');
  if (node) node.classList.add("selected");
  const hint = document.getElementById("step-hint");
  if (hint) hint.hidden = true;
  if (focus) panel.focus({ preventScroll: window.matchMedia("(min-width: 48rem)").matches });
}

function initGraph() {
  const nodes = document.querySelectorAll(".step-node[data-step]");
  nodes.forEach((node) => {
    node.addEventListener("click", (ev) => {
      ev.preventDefault();
      const id = node.dataset.step;
      history.replaceState(null, "", "#step-" + id);
      openStep(id, true);
    });
  });
  const m = /^#step-(\d+)$/.exec(location.hash);
  if (m) openStep(m[1], false);
}

function csrfToken(form) {
  const input = form.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function fmt(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, k) => String(values[k]));
}

function initVerify() {
  const form = document.getElementById("verify-form");
  const out = document.getElementById("verify-result");
  const list = document.getElementById("verify-problems");
  if (!form || !out) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    out.className = "verify-result";
    out.textContent = out.dataset.running;
    list.replaceChildren();
    try {
      const resp = await fetch(form.action, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" },
        credentials: "same-origin",
      });
      const data = await resp.json();
      if (!resp.ok) throw new Error(data.detail || resp.statusText);
      if (data.ok) {
        out.className = "verify-result ok";
        out.textContent = "✔ " + fmt(out.dataset.ok, { checked: data.checked });
      } else {
        out.className = "verify-result bad";
        out.textContent = "✘ " + fmt(out.dataset.bad, { count: (data.problems || []).length });
        (data.problems || []).forEach((p) => {
          const li = document.createElement("li");
          li.textContent = typeof p === "string" ? p : (p.message || JSON.stringify(p));
          list.appendChild(li);
        });
      }
    } catch (err) {
      out.className = "verify-result bad";
      out.textContent = out.dataset.error + " " + err.message;
    } finally {
      button.disabled = false;
    }
  });
}

function initJobPolling() {
  const box = document.getElementById("job-live");
  if (!box) return;
  const url = box.dataset.statusUrl;
  const bar = document.getElementById("job-progress");
  const status = document.getElementById("job-status");
  const pct = document.getElementById("job-percent");
  const err = document.getElementById("job-error");
  const steps = document.getElementById("job-steps");
  const out = document.getElementById("job-output");
  const finished = ["succeeded", "failed", "cancelled"];
  let last = "";
  let lastEvents = "";
  const tick = async () => {
    let data;
    try {
      const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!resp.ok) throw new Error(resp.statusText);
      data = await resp.json();
    } catch (e) {
      setTimeout(tick, 3000);
      return;
    }
    bar.value = data.progress;
    pct.textContent = Math.round(data.progress * 100) + "%";
    const eta = document.getElementById("job-eta");
    if (eta) {
      eta.textContent = data.eta_s !== null && data.eta_s !== undefined
        ? fmt(eta.dataset.left, { time: formatDuration(data.eta_s) })
        : data.status === "running" && data.elapsed_s > 0 ? fmt(eta.dataset.elapsed, { time: formatDuration(data.elapsed_s) }) : "";
    }
    status.textContent = data.status_display;
    status.dataset.status = data.status;
    box.dataset.status = data.status;
    if (data.error) { err.textContent = data.error; err.hidden = false; }
    const html = data.steps_html;
    if (html !== last) { steps.innerHTML = html; last = html; }
    if (data.output_html) { out.innerHTML = data.output_html; out.hidden = false; }
    const events = document.getElementById("job-events");
    if (events && data.events_html && data.events_html !== lastEvents) {
      events.innerHTML = data.events_html;
      lastEvents = data.events_html;
    }
    const cancel = document.getElementById("job-cancel-form");
    if (finished.includes(data.status)) {
      if (cancel) cancel.hidden = true;
      // The "queued" message belonged to the moment of submitting: clear it now.
      document.querySelectorAll(".messages li.success").forEach((li) => li.remove());
      return;
    }
    setTimeout(tick, box.dataset.cancelling ? 250 : 800);
  };
  if (!finished.includes(box.dataset.status)) tick();
  const cancelForm = document.getElementById("job-cancel-form");
  if (cancelForm) {
    cancelForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = cancelForm.querySelector("button");
      button.disabled = true;
      box.dataset.cancelling = "1";
      status.textContent = cancelForm.dataset.cancelling;
      try {
        const resp = await fetch(cancelForm.action, {
          method: "POST",
          headers: { "X-CSRFToken": csrfToken(cancelForm), Accept: "application/json" },
          credentials: "same-origin",
        });
        const data = await resp.json();
        if (!resp.ok) { err.textContent = data.message || resp.statusText; err.hidden = false; }
        else { status.textContent = data.status_display; status.dataset.status = data.status; box.dataset.status = data.status; }
      } catch (e) {
        cancelForm.submit();
      }
    });
  }
}

function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + String(s % 60).padStart(2, "0") + " s";
  return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
}

// Messages clear themselves: a success or info line fades after a while; errors stay.
function initMessages() {
  document.querySelectorAll(".messages li").forEach((li) => {
    const close = document.createElement("button");
    close.type = "button";
    close.className = "linklike message-close";
    close.textContent = "✕";
    close.setAttribute("aria-label", document.documentElement.lang.startsWith("zh") ? "关闭" : "Dismiss");
    close.addEventListener("click", () => li.remove());
    li.append(" ", close);
    if (!li.classList.contains("error")) setTimeout(() => li.remove(), 8000);
  });
}

// Cataloguing forms: EDTF dates checked as you type; rows of names added on demand.
function initCatalogueForms() {
  document.querySelectorAll("input[data-edtf]").forEach((input) => {
    const out = document.createElement("span");
    out.className = "edtf-check helptext";
    out.setAttribute("aria-live", "polite");
    out.id = input.id + "-check";
    input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + out.id).trim());
    input.insertAdjacentElement("afterend", out);
    let timer = null;
    const check = async () => {
      const value = input.value.trim();
      if (!value) { out.textContent = ""; input.removeAttribute("aria-invalid"); return; }
      const resp = await fetch("/edtf/?value=" + encodeURIComponent(value), { credentials: "same-origin" });
      const data = await resp.json();
      if (input.value.trim() !== value) return;
      if (data.ok) {
        out.className = "edtf-check helptext ok";
        out.textContent = "✔ " + (data.earliest || "…") + " – " + (data.latest || "…");
        input.removeAttribute("aria-invalid");
      } else {
        out.className = "edtf-check helptext bad";
        out.textContent = "✘ " + data.message;
        input.setAttribute("aria-invalid", "true");
      }
    };
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
    if (input.value) check();
  });
  const addName = document.getElementById("add-name");
  if (addName) {
    addName.addEventListener("click", () => {
      const body = document.getElementById("names-body");
      const rows = body.querySelectorAll("tr");
      const row = rows[rows.length - 1].cloneNode(true);
      const n = rows.length;
      row.querySelectorAll("input, select").forEach((el) => {
        el.name = el.name.replace(/names-\d+-/, "names-" + n + "-");
        el.id = el.id.replace(/names-\d+-/, "names-" + n + "-");
        if (el.tagName === "INPUT") el.value = "";
      });
      body.append(row);
      row.querySelector("input").focus();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  initCompare();
  initGraph();
  initVerify();
  initJobPolling();
  initMessages();
  initCatalogueForms();
});
