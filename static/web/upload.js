// Upload many scans at once: each file goes to the API on its own, with a progress bar and a
// result line (ingested, already in the archive, refused with the reason). No build step.
"use strict";

(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("id_image");
  const results = document.getElementById("upload-results");
  const zone = document.getElementById("dropzone");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  let dropped = null;

  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (ev) => { ev.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    dropped = Array.from(ev.dataTransfer.files);
    zone.querySelector(".helptext").textContent = dropped.map((f) => f.name).join(", ");
  });

  function shared() {
    const fields = [];
    form.querySelectorAll("input, select, textarea").forEach((el) => {
      if (!el.name || el.name === "image" || el.name === "csrfmiddlewaretoken") return;
      if (el.type === "checkbox") { fields.push([el.name, el.checked ? "true" : "false"]); return; }
      if (el.tagName === "SELECT" && el.multiple) { Array.from(el.selectedOptions).forEach((o) => fields.push([el.name, o.value])); return; }
      if (el.value !== "") fields.push([el.name, el.value]);
    });
    return fields;
  }

  function upload(file, fields) {
    const bar = document.createElement("progress");
    bar.max = 1; bar.value = 0;
    const line = document.createElement("li");
    line.className = "upload-result uploading";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const outcome = document.createElement("span");
    outcome.className = "outcome";
    line.append(name, " ", bar, " ", outcome);
    results.append(line);
    return new Promise((resolve) => {
      const body = new FormData();
      body.append("image", file, file.name);
      const hasTitle = fields.some(([k]) => k === "title");
      if (!hasTitle) body.append("title", file.name.replace(/\.[^.]+$/, ""));
      fields.forEach(([k, v]) => body.append(k, v));
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.api);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) bar.value = ev.loaded / ev.total; });
      xhr.addEventListener("load", () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = { message: xhr.statusText }; }
        bar.value = 1;
        let state;
        let photo = null;
        if (xhr.status === 201 || xhr.status === 200) { state = "ingested"; photo = data.id; }
        else if (xhr.status === 409) { state = "duplicate"; photo = data.photo; }
        else state = "refused";
        line.className = "upload-result " + state;
        line.dataset.state = state;
        outcome.textContent = results.dataset[state] + (state === "refused" ? ": " + (data.message || xhr.statusText) : "");
        if (photo) {
          const a = document.createElement("a");
          a.href = "/photos/" + photo + "/";
          a.textContent = results.dataset.open;
          line.append(" ", a);
        }
        resolve(state);
      });
      xhr.addEventListener("error", () => {
        line.className = "upload-result refused";
        line.dataset.state = "refused";
        outcome.textContent = results.dataset.refused;
        resolve("refused");
      });
      xhr.send(body);
    });
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = dropped || Array.from(input.files);
    if (!files.length) { input.focus(); return; }
    const button = document.getElementById("upload-button");
    button.disabled = true;
    const fields = shared();
    // One after the other: each file shows its own progress and result, and an embedded
    // SQLite archive never sees two ingests writing at once.
    for (const file of files) await upload(file, fields);
    button.disabled = false;
    dropped = null;
    input.value = "";
    form.dataset.done = String(files.length);
  });
})();
