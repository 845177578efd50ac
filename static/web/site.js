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
      return;
    }
    setTimeout(tick, 1000);
  };
  if (!finished.includes(box.dataset.status)) tick();
}

function initPipelineForm() {
  const form = document.getElementById("pipeline-form");
  if (!form) return;
  const list = document.getElementById("pipeline-steps");
  const template = document.getElementById("pipeline-step-template");
  const defaults = JSON.parse(document.getElementById("operation-defaults").textContent);
  const renumber = () => {
    list.querySelectorAll(".pipeline-step").forEach((row, i) => {
      row.querySelectorAll("[data-name]").forEach((el) => {
        el.name = el.dataset.name.replace("__i__", String(i));
        el.id = el.dataset.name.replace("__i__", String(i));
      });
      row.querySelectorAll("label[data-for]").forEach((l) => { l.htmlFor = l.dataset.for.replace("__i__", String(i)); });
      const n = row.querySelector(".step-number");
      if (n) n.textContent = String(i + 1);
    });
    document.getElementById("id_step_count").value = String(list.children.length);
  };
  const wire = (row) => {
    const op = row.querySelector("select");
    const params = row.querySelector("textarea");
    op.addEventListener("change", () => {
      if (!params.value.trim() || params.dataset.auto === "1") {
        params.value = JSON.stringify(defaults[op.value] || {}, null, 0);
        params.dataset.auto = "1";
      }
    });
    params.addEventListener("input", () => { params.dataset.auto = "0"; });
    const remove = row.querySelector(".remove-step");
    remove.addEventListener("click", () => {
      if (list.children.length > 1) { row.remove(); renumber(); }
    });
  };
  list.querySelectorAll(".pipeline-step").forEach(wire);
  document.getElementById("add-step").addEventListener("click", () => {
    const row = template.content.firstElementChild.cloneNode(true);
    list.appendChild(row);
    wire(row);
    renumber();
    row.querySelector("select").dispatchEvent(new Event("change"));
    row.querySelector("select").focus();
  });
  renumber();
}

document.addEventListener("DOMContentLoaded", () => {
  initCompare();
  initGraph();
  initVerify();
  initJobPolling();
  initPipelineForm();
});
