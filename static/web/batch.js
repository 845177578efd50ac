// The batch page: each job's state, progress and time left, polled until all have ended.
"use strict";

(function () {
  const table = document.getElementById("batch-jobs");
  if (!table) return;
  const finished = ["succeeded", "failed", "cancelled"];
  const duration = (s) => (s < 60 ? Math.round(s) + " s" : Math.floor(s / 60) + " min " + String(Math.round(s % 60)).padStart(2, "0") + " s");
  const tick = async () => {
    let data;
    try {
      const resp = await fetch(table.dataset.statusUrl, { credentials: "same-origin" });
      data = await resp.json();
    } catch (e) {
      setTimeout(tick, 3000);
      return;
    }
    data.jobs.forEach((job) => {
      const row = table.querySelector(`tr[data-job="${job.id}"]`);
      if (!row) return;
      row.dataset.status = job.status;
      row.querySelector(".status").textContent = job.status_display + (job.error ? ": " + job.error : "");
      row.querySelector("progress").value = job.progress;
      row.querySelector(".eta").textContent = job.eta_s !== null ? table.dataset.left.replace("%(time)s", duration(job.eta_s)) : "";
      if (job.output && !row.querySelector(".result a")) {
        const a = document.createElement("a");
        a.href = "/artifacts/" + job.output + "/";
        a.textContent = "#" + job.output;
        row.querySelector(".result").append(a);
      }
      const cell = row.querySelector(".identity");
      if (cell && job.identity && !cell.querySelector(".badge")) {
        const badge = document.createElement("span");
        const kinds = { same: "ok", different: "bad", uncertain: "restricted" };
        badge.className = "badge " + (kinds[job.identity] || "");
        badge.textContent = JSON.parse(cell.dataset.labels)[job.identity] || job.identity;
        cell.append(badge);
      }
    });
    if (data.jobs.every((j) => finished.includes(j.status))) { table.dataset.done = "1"; return; }
    setTimeout(tick, 1000);
  };
  tick();
})();
