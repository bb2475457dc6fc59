// Upload page: sends the chosen image to /api/v1/ocr and draws the answer over it.
// Plain browser JavaScript, no framework and no network access beyond this server.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const LOW_CONFIDENCE = 0.6;
  const maxBytes = Number(document.body.dataset.maxUploadBytes || 0);
  const TERMINAL = ["succeeded", "failed", "cancelled"];
  let objectUrl = null;
  let jobsEnabled = false;

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  async function loadInfo() {
    try {
      const res = await fetch("/api/v1/info");
      const info = await res.json();
      $("model").textContent = info.model ? `model: ${info.model.name} ${info.model.version}` : "model: loading…";
      jobsEnabled = Boolean(info.config && info.config.jobs && info.config.jobs.enabled);
      const badge = $("status");
      badge.textContent = info.ready ? "ready" : (info.load_error ? "model failed to load" : "loading model…");
      badge.className = "badge " + (info.ready ? "ready" : info.load_error ? "down" : "");
      if (!info.ready && !info.load_error) setTimeout(loadInfo, 2000);
    } catch (err) {
      $("status").textContent = "server unreachable";
      $("status").className = "badge down";
    }
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function highlight(index, on) {
    const rect = $("boxes").querySelector(`rect[data-i="${index}"]`);
    const item = $("lines").querySelector(`li[data-i="${index}"]`);
    if (rect) rect.classList.toggle("hot", on);
    if (item) item.classList.toggle("hot", on);
  }

  function render(result) {
    const svg = $("boxes");
    clear(svg);
    svg.setAttribute("viewBox", `0 0 ${result.image.width} ${result.image.height}`);
    const list = $("lines");
    clear(list);
    result.lines.forEach((line, i) => {
      const [x1, y1, x2, y2] = line.box;
      const low = line.confidence < LOW_CONFIDENCE;
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", x1);
      rect.setAttribute("y", y1);
      rect.setAttribute("width", Math.max(1, x2 - x1));
      rect.setAttribute("height", Math.max(1, y2 - y1));
      rect.dataset.i = i;
      if (low) rect.classList.add("low");
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `${line.text} (${(line.confidence * 100).toFixed(0)} %)`;
      rect.appendChild(title);
      rect.addEventListener("mouseenter", () => highlight(i, true));
      rect.addEventListener("mouseleave", () => highlight(i, false));
      svg.appendChild(rect);

      const li = document.createElement("li");
      li.dataset.i = i;
      const conf = document.createElement("span");
      conf.className = "conf" + (low ? " low" : "");
      conf.textContent = `${(line.confidence * 100).toFixed(0)} %`;
      const text = document.createElement("span");
      text.className = line.text ? "text" : "text empty";
      text.textContent = line.text || "(nothing read)";
      li.append(conf, text);
      li.addEventListener("mouseenter", () => highlight(i, true));
      li.addEventListener("mouseleave", () => highlight(i, false));
      list.appendChild(li);
    });
    $("count").textContent = `(${result.lines.length})`;
    $("caption").textContent =
      `${result.image.width} × ${result.image.height} px · ${result.model.name} ${result.model.version}`;
    const body = $("timings").tBodies[0];
    clear(body);
    for (const [stage, ms] of Object.entries(result.timings_ms)) {
      const row = body.insertRow();
      row.insertCell().textContent = stage;
      row.insertCell().textContent = `${ms.toFixed(1)} ms`;
    }
    $("copy").onclick = () => navigator.clipboard && navigator.clipboard.writeText(result.text);
    $("result").hidden = false;
  }

  // Several files: one POST /api/v1/jobs, then poll the job's status_url until it has finished.
  async function submitJob(files) {
    showError("");
    $("result").hidden = true;
    const form = new FormData();
    files.forEach((f) => form.append("image", f, f.name));
    const list = $("job-pages");
    clear(list);
    $("job").hidden = false;
    $("job-progress").textContent = "submitting…";
    try {
      const res = await fetch("/api/v1/jobs", { method: "POST", body: form });
      const body = await res.json();
      if (res.status !== 202) {
        $("job").hidden = true;
        showError(`The batch was refused: ${body.error ? `${body.error.message} (${res.status} ${body.error.code})` : `HTTP ${res.status}`}`);
        return;
      }
      let job = body;
      while (!TERMINAL.includes(job.status)) {
        await new Promise((r) => setTimeout(r, 1000));
        job = await (await fetch(body.status_url)).json();
        const p = job.progress || { done: 0, total: files.length };
        $("job-progress").textContent = `${job.status}, ${p.done}/${p.total} pages`;
        $("job-bar").max = p.total;
        $("job-bar").value = p.done;
      }
      $("job-progress").textContent = `${job.status}, ${job.progress.done}/${job.progress.total} pages`;
      (job.pages || []).forEach((page) => {
        const li = document.createElement("li");
        const file = files[page.index];
        if (page.status === "succeeded") {
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = `${file.name}: ${page.result.lines.length} lines`;
          button.onclick = () => show(file, page.result);
          li.appendChild(button);
        } else {
          li.textContent = `${file.name}: ${page.status}${page.error ? ` (${page.error.code}: ${page.error.message})` : ""}`;
          li.className = "failed";
        }
        list.appendChild(li);
      });
    } catch (err) {
      showError(`The server could not be reached: ${err.message}`);
    }
  }

  async function show(file, result) {
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    const img = $("image");
    await new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; img.src = objectUrl; });
    render(result);
  }

  function choose(fileList) {
    const files = Array.from(fileList || []);
    if (files.length > 1 && jobsEnabled) submitJob(files);
    else upload(files[0]);
  }

  async function upload(file) {
    showError("");
    if (!file) return;
    if (maxBytes && file.size > maxBytes) {
      showError(`This file is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${(maxBytes / 1048576).toFixed(1)} MB.`);
      return;
    }
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    $("result").hidden = true;
    $("busy").hidden = false;
    const form = new FormData();
    form.append("image", file, file.name);
    try {
      const res = await fetch("/api/v1/ocr", { method: "POST", body: form });
      let body = null;
      try { body = await res.json(); } catch (e) { body = null; }
      if (!res.ok) {
        const err = body && body.error ? `${body.error.message} (${res.status} ${body.error.code})` : `HTTP ${res.status}`;
        showError(`Could not read this image: ${err}`);
        return;
      }
      const img = $("image");
      await new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; img.src = objectUrl; });
      render(body);
    } catch (err) {
      showError(`The server could not be reached: ${err.message}`);
    } finally {
      $("busy").hidden = true;
    }
  }

  const drop = $("drop");
  $("file").addEventListener("change", (e) => choose(e.target.files));
  drop.addEventListener("click", (e) => { if (!e.target.closest("label")) $("file").click(); });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => choose(e.dataTransfer.files));
  loadInfo();
})();
