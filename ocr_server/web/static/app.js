// Upload page: sends the chosen image or PDF to /api/v1/ocr and draws the answer over it (one figure
// per page for documents, from the page images the API returns), and downloads the other formats.
// Several images at once go to /api/v1/jobs as one batch job (when the server has jobs enabled),
// with its progress, and each page's result shown like a single image's.
// A server with several models (model.additional) gets a picker; its choice goes with every request
// as ?model=NAME:VERSION, and each line's text is tagged with the model's language (lang), so Chinese
// is drawn with Chinese glyph forms.
// Plain browser JavaScript, no framework and no network access beyond this server.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const LOW_CONFIDENCE = 0.6;
  const maxBytes = Number(document.body.dataset.maxUploadBytes || 0);
  const TERMINAL = ["succeeded", "failed", "cancelled"];
  let objectUrl = null;
  let currentFile = null;
  let jobsEnabled = false;
  let models = [];

  // The chosen model as a query string ("" for the default), and its language tag for the lines.
  function modelQuery(sep) {
    const pick = $("model-choice");
    return models.length > 1 && pick.value ? `${sep}model=${encodeURIComponent(pick.value)}` : "";
  }
  function modelLanguage(model) {
    const m = models.find((x) => model && x.name === model.name && x.version === model.version);
    return (m && m.language) || "";
  }

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
      models = info.models || [];
      const pick = $("model-choice");
      if (models.length > 1 && !pick.options.length) {
        models.forEach((m) => {
          const option = document.createElement("option");
          option.value = `${m.name}:${m.version}`;
          option.textContent = `${m.name} ${m.version}` + (m.default ? " (default)" : "");
          pick.appendChild(option);
        });
        $("model-pick").hidden = false;
      }
      jobsEnabled = Boolean(info.jobs_enabled);
      const badge = $("status");
      // loaded but misread its golden set at start-up: unready for good, like a failed load
      const misreads = Boolean(info.golden && !info.golden.passed);
      const down = Boolean(info.load_error) || misreads;
      badge.textContent = info.ready ? "ready"
        : misreads ? "model failed its reading check"
        : info.load_error ? "model failed to load" : "loading model…";
      badge.className = "badge " + (info.ready ? "ready" : down ? "down" : "");
      if (!info.ready && !down) setTimeout(loadInfo, 2000);
    } catch (err) {
      $("status").textContent = "server unreachable";
      $("status").className = "badge down";
    }
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }


  // Boxes of `lines` as SVG rects in `svg` (viewBox = the page's pixels); `offset` numbers them
  // across pages so the list and the boxes highlight each other.
  function drawBoxes(svg, lines, width, height, offset) {
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    lines.forEach((line, k) => {
      const i = offset + k;
      const [x1, y1, x2, y2] = line.box;
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", x1);
      rect.setAttribute("y", y1);
      rect.setAttribute("width", Math.max(1, x2 - x1));
      rect.setAttribute("height", Math.max(1, y2 - y1));
      rect.dataset.i = i;
      if (line.confidence < LOW_CONFIDENCE) rect.classList.add("low");
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `${line.text} (${(line.confidence * 100).toFixed(0)} %)`;
      rect.appendChild(title);
      rect.addEventListener("mouseenter", () => highlight(i, true));
      rect.addEventListener("mouseleave", () => highlight(i, false));
      svg.appendChild(rect);
    });
  }

  function listLines(lines, offset, pageNumber, lang) {
    const list = $("lines");
    lines.forEach((line, k) => {
      const i = offset + k;
      const low = line.confidence < LOW_CONFIDENCE;
      const li = document.createElement("li");
      li.dataset.i = i;
      const conf = document.createElement("span");
      conf.className = "conf" + (low ? " low" : "");
      conf.textContent = `${(line.confidence * 100).toFixed(0)} %`;
      const text = document.createElement("span");
      text.className = line.text ? "text" : "text empty";
      text.textContent = line.text || "(nothing read)";
      if (lang && line.text) text.lang = lang;
      if (pageNumber) {
        const label = document.createElement("span");
        label.className = "page-label";
        label.textContent = `p${pageNumber}`;
        li.append(label);
      }
      li.append(conf, text);
      li.addEventListener("mouseenter", () => highlight(i, true));
      li.addEventListener("mouseleave", () => highlight(i, false));
      list.appendChild(li);
    });
  }

  function highlight(index, on) {
    const rect = document.querySelector(`#result svg rect[data-i="${index}"]`);
    const item = $("lines").querySelector(`li[data-i="${index}"]`);
    if (rect) rect.classList.toggle("hot", on);
    if (item) item.classList.toggle("hot", on);
  }

  function renderTimings(result) {
    const body = $("timings").tBodies[0];
    clear(body);
    for (const [stage, ms] of Object.entries(result.timings_ms)) {
      const row = body.insertRow();
      row.insertCell().textContent = stage;
      row.insertCell().textContent = `${ms.toFixed(1)} ms`;
    }
  }

  function render(result) {
    clear($("boxes"));
    clear($("lines"));
    $("single").hidden = false;
    $("pages").hidden = true;
    drawBoxes($("boxes"), result.lines, result.image.width, result.image.height, 0);
    listLines(result.lines, 0, null, modelLanguage(result.model));
    $("count").textContent = `(${result.lines.length})`;
    $("caption").textContent =
      `${result.image.width} × ${result.image.height} px · ${result.model.name} ${result.model.version}`;
    renderTimings(result);
    $("copy").onclick = () => navigator.clipboard && navigator.clipboard.writeText(result.text);
    $("result").hidden = false;
  }

  // A PDF or multi-page TIFF: one figure per page, drawn from the page image the API sent back.
  function renderDocument(result) {
    const pages = $("pages");
    clear(pages);
    clear($("lines"));
    $("single").hidden = true;
    pages.hidden = false;
    let offset = 0;
    for (const page of result.pages) {
      const figure = document.createElement("figure");
      figure.className = "stage page";
      figure.dataset.page = page.page;
      const canvas = document.createElement("div");
      canvas.className = "canvas";
      const img = document.createElement("img");
      img.alt = `page ${page.page}`;
      if (page.image) img.src = page.image;
      const svg = document.createElementNS(SVG_NS, "svg");
      svg.setAttribute("class", "boxes");
      svg.setAttribute("preserveAspectRatio", "none");
      drawBoxes(svg, page.lines, page.width, page.height, offset);
      canvas.append(img, svg);
      const caption = document.createElement("figcaption");
      caption.textContent = `page ${page.page} of ${result.pages.length} · ${page.width} × ${page.height} px · ` +
        `${page.lines.length} lines` + (page.source === "text_layer" ? " · from the PDF's text" : "");
      figure.append(canvas, caption);
      pages.appendChild(figure);
      listLines(page.lines, offset, page.page, modelLanguage(result.model));
      offset += page.lines.length;
    }
    $("count").textContent = `(${offset} on ${result.pages.length} pages)`;
    renderTimings(result);
    $("copy").onclick = () => navigator.clipboard && navigator.clipboard.writeText(result.text);
    $("result").hidden = false;
  }

  // Download buttons: the same file again, in the chosen format (the server keeps nothing).
  const EXTENSIONS = { text: "txt", hocr: "hocr.html", alto: "alto.xml", pdf: "pdf" };
  async function download(format) {
    if (!currentFile) return;
    const status = $("download-status");
    status.textContent = `Preparing ${format}…`;
    const form = new FormData();
    form.append("image", currentFile, currentFile.name);
    try {
      const res = await fetch(`/api/v1/ocr?format=${format}${modelQuery("&")}`, { method: "POST", body: form });
      if (!res.ok) {
        let body = null;
        try { body = await res.json(); } catch (e) { body = null; }
        showError(`Could not prepare the download: ${body && body.error ? body.error.message : "HTTP " + res.status}`);
        status.textContent = "";
        return;
      }
      const blob = await res.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${currentFile.name.replace(/\.[^.]+$/, "") || "ocr"}.${EXTENSIONS[format]}`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      status.textContent = "";
    } catch (err) {
      showError(`The server could not be reached: ${err.message}`);
      status.textContent = "";
    }
  }
  document.querySelectorAll("#downloads button").forEach((b) => b.addEventListener("click", () => download(b.dataset.format)));

  function errorText(res, body) {
    return body && body.error ? `${body.error.message} (${res.status} ${body.error.code})` : `HTTP ${res.status}`;
  }

  async function jsonOf(res) {
    try { return await res.json(); } catch (e) { return null; }
  }

  function isPdf(file) { return /pdf/.test(file.type) || /\.pdf$/i.test(file.name); }

  function tooBig(file) {
    if (maxBytes && file.size > maxBytes) {
      showError(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${(maxBytes / 1048576).toFixed(1)} MB.`);
      return true;
    }
    return false;
  }

  function jobLine(job) {
    const p = job.progress || { done: 0, total: 0 };
    return `${job.status}, ${p.done}/${p.total} pages`;
  }

  // Several images: one POST /api/v1/jobs, then poll the job's status_url until it has finished.
  async function submitJob(files) {
    showError("");
    if (files.some(tooBig)) return;
    $("result").hidden = true;
    currentFile = null;
    const form = new FormData();
    files.forEach((f) => form.append("image", f, f.name));
    const list = $("job-pages");
    clear(list);
    $("job").hidden = false;
    $("job-bar").max = files.length;
    $("job-bar").value = 0;
    $("job-progress").textContent = "submitting…";
    try {
      // the job reads with the chosen model (pinned at submission; each page result names it)
      const res = await fetch("/api/v1/jobs" + modelQuery("?"), { method: "POST", body: form });
      const body = await jsonOf(res);
      if (res.status !== 202 || !body) {
        $("job").hidden = true;
        showError(`The batch was refused: ${errorText(res, body)}`);
        return;
      }
      let job = body;
      while (!TERMINAL.includes(job.status)) {
        await new Promise((r) => setTimeout(r, 1000));
        const poll = await fetch(body.status_url);
        const next = await jsonOf(poll);
        if (poll.status === 503) continue; // the job store is briefly unreachable: keep polling
        if (!poll.ok || !next) {
          $("job-progress").textContent = "unknown";
          showError(`The batch job could not be followed: ${errorText(poll, next)}`);
          return;
        }
        job = next;
        const p = job.progress || { done: 0, total: files.length };
        $("job-progress").textContent = jobLine(job);
        $("job-bar").max = p.total;
        $("job-bar").value = p.done;
      }
      $("job-progress").textContent = jobLine(job);
      if (job.error) showError(`The batch job ${job.status}: ${job.error.message} (${job.error.code})`);
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

  // One page of a finished job, drawn like a single image; the downloads re-read that file.
  async function show(file, result) {
    showError("");
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    currentFile = file;
    const img = $("image");
    await new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; img.src = objectUrl; });
    render(result);
  }

  // One file: /api/v1/ocr.  Several: a batch job when the server has jobs enabled and they are all
  // images (a PDF is read on its own); else the first file alone.
  function choose(fileList) {
    const files = Array.from(fileList || []);
    if (files.length > 1 && jobsEnabled) {
      if (files.some(isPdf)) {
        showError("A batch job takes images only: choose a PDF on its own, or the images without it.");
        return;
      }
      submitJob(files);
      return;
    }
    upload(files[0]);
  }

  async function upload(file) {
    showError("");
    if (!file) return;
    if (tooBig(file)) return;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    currentFile = file;
    $("job").hidden = true;
    $("result").hidden = true;
    $("busy").hidden = false;
    const form = new FormData();
    form.append("image", file, file.name);
    try {
      // documents (PDF, TIFF) come back with each page as a JPEG to draw the boxes on
      const isDocument = /pdf|tiff/.test(file.type) || /\.(pdf|tiff?)$/i.test(file.name);
      const query = (isDocument ? "?page_images=true" : "") + modelQuery(isDocument ? "&" : "?");
      const res = await fetch("/api/v1/ocr" + query, { method: "POST", body: form });
      const body = await jsonOf(res);
      if (!res.ok || !body) {
        showError(`Could not read this file: ${errorText(res, body)}`);
        return;
      }
      if (body.pages) {
        renderDocument(body);
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
