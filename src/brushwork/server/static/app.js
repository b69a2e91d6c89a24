// The brushwork page: one form that posts a stylize job (or an apply job: a trained network; or an
// audio job: a sound in the texture of another), one view that follows it through the event stream,
// and the history from GET /v1/jobs. No build step, no libraries.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: localStorage.getItem("brushwork-token"), defaults: {}, example: null,
                examplePhoto: false, kind: "stylize", job: null, stream: null, urls: [] };
const FINAL = ["done", "failed", "cancelled"];

// -- talking to the API ------------------------------------------------------------------------

function headers() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

async function api(path, options = {}) {
  const answer = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  if (answer.status === 401) {
    await askToken();
    return api(path, options);
  }
  return answer;
}

function askToken() {
  return new Promise((resolve) => {
    const dialog = $("token-dialog");
    $("token-form").onsubmit = () => {
      state.token = $("token").value.trim();
      localStorage.setItem("brushwork-token", state.token);
      resolve();
    };
    dialog.showModal();
  });
}

// A file URL of the API as something an <img> or <audio> can load: the URL itself without a token,
// else a blob fetched with the bearer header.
async function mediaUrl(url) {
  if (!state.token) return url;
  const answer = await api(url);
  const blobUrl = URL.createObjectURL(await answer.blob());
  state.urls.push(blobUrl);
  return blobUrl;
}

// Server-sent events read through fetch (EventSource cannot send a bearer header).
async function follow(url, onEvent, signal) {
  const answer = await api(url, { signal });
  const reader = answer.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      let name = "message", data = "";
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

// -- the form ----------------------------------------------------------------------------------

function showError(field, message) {
  // The server names an audio job's sounds "content" and "style", as a painting's pictures.
  const sounds = state.kind === "audio" ? { content: "content_sound", style: "style_sound" } : {};
  const target = sounds[field] || { style_example: "style", settings: "form", body: "form", queue: "form" }[field]
    || field;
  const box = $(`error-${target}`) || $("error-form");
  box.textContent = message;
  const control = $(target);
  if (control && control.closest("details")) control.closest("details").open = true;
  if (control && box.id !== "error-form") {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
}

function clearErrors() {
  document.querySelectorAll(".error").forEach((box) => { box.textContent = ""; });
  document.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

// The server's default of a setting of the chosen kind of job (each kind has its own).
function byDefault(name) {
  return state.defaults[state.kind][name];
}

function styleFactor() {
  // The slider is logarithmic around the server's default: its middle is the default, each end 30x.
  return Math.pow(30, (Number($("style_weight").value) - 50) / 50);
}

function showSettings() {
  $("size-out").textContent = `${$("size").value} px`;
  $("strength-out").textContent = `${$("strength").value}%`;
  $("style_weight-out").textContent = `×${styleFactor().toPrecision(2)}`;
}

// Show a chosen file in ``element`` (an <img> or <audio>), freeing the one it showed before.
function showLocal(element, file) {
  if (element.src.startsWith("blob:")) URL.revokeObjectURL(element.src);
  element.src = URL.createObjectURL(file);
  element.hidden = false;
}

function showSound(inputId, file) {
  $(`${inputId}-name`).textContent = file.name;
  $(`${inputId}-name`).hidden = false;
  showLocal($(`${inputId}-player`), file);
}

// A drop zone (the label "drop-ID") over the file input ID; ``show`` shows the chosen file.
function wireDrop(inputId, show) {
  const drop = $(`drop-${inputId}`), input = $(inputId);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      input.dispatchEvent(new Event("change"));
    }
  });
  input.addEventListener("change", () => {
    clearErrors();
    if (!input.files[0]) return;
    drop.classList.add("filled");
    show(input.files[0]);
  });
}

function selectExample(name) {
  state.example = name;
  document.querySelectorAll("#examples input").forEach((radio) => { radio.checked = radio.value === name; });
  if (name) {
    $("style").value = "";
    $("style-thumb").src = `/static/examples/styles/${name}`;
    $("style-thumb").hidden = false;
    $("drop-style").classList.add("filled");
  }
}

// Show the controls of one kind of job ("stylize", "apply" or "audio"; an element's data-kind lists
// the kinds it belongs to) and hide the others'.
function setKind(kind) {
  state.kind = kind;
  document.querySelectorAll("[data-kind]").forEach((el) => { el.hidden = !el.dataset.kind.split(" ").includes(kind); });
  $("paint").textContent = { stylize: "Paint", apply: "Apply the style", audio: "Restyle the sound" }[kind];
  if (byDefault("iterations") !== undefined) $("iterations").value = byDefault("iterations");
  clearErrors();
}

// The fields of every picture job: the photo (a file or the example), its size and colours.
// Returns false after showing what is missing (as each ...Fields function below).
async function photoFields(form) {
  if ($("content").files[0]) form.append("content", $("content").files[0]);
  else if (state.examplePhoto) form.append("content", await (await fetch("/static/examples/village.jpg")).blob(), "village.jpg");
  else {
    showError("content", "Choose a photo first.");
    return false;
  }
  form.append("size", $("size").value);
  form.append("preserve_colors", $("preserve_colors").value);
  return true;
}

// The fields that paintings and sounds share: the style strength and, when changed, the iterations.
function effortFields(form) {
  form.append("style_weight", (byDefault("style_weight") * styleFactor()).toPrecision(4));
  if (Number($("iterations").value) !== byDefault("iterations")) form.append("iterations", $("iterations").value);
}

// The fields of a stylize job: the photo's, the painting (a file or a bundled one), its strength,
// quality, iterations and the optional masks.
async function stylizeFields(form) {
  if (!(await photoFields(form))) return false;
  if ($("style").files[0]) form.append("style", $("style").files[0]);
  else if (state.example) form.append("style_example", state.example);
  else {
    showError("style", "Choose a painting or one of the bundled styles.");
    return false;
  }
  effortFields(form);
  form.append("quality", $("quality").value);
  for (const mask of ["content_mask", "style_masks"]) if ($(mask).files[0]) form.append(mask, $(mask).files[0]);
  return true;
}

// The fields of an apply job: the photo's, the network, how much of its style to blend in and how
// many times smaller to run it (larger strokes; empty: as trained).
async function applyFields(form) {
  if (!(await photoFields(form))) return false;
  if (!$("model").value) {
    showError("model", "Choose a style network.");
    return false;
  }
  form.append("kind", "apply");
  form.append("model", $("model").value);
  form.append("strength", String(Number($("strength").value) / 100));
  form.append("stroke_scale", $("stroke_scale").value);
  return true;
}

// The fields of an audio job: the sound, the sound whose texture to take, where to start, the
// style strength and iterations.
function audioFields(form) {
  const missing = [["content_sound", "Choose a sound first."], ["style_sound", "Choose the sound whose texture to take."]]
    .find(([id]) => !$(id).files[0]);
  if (missing) {
    showError(...missing);
    return false;
  }
  form.append("kind", "audio");
  form.append("content", $("content_sound").files[0]);
  form.append("style", $("style_sound").files[0]);
  form.append("init", $("init").value);
  effortFields(form);
  return true;
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const form = new FormData();
  const fields = { stylize: stylizeFields, apply: applyFields, audio: audioFields }[state.kind];
  if (!(await fields(form))) return;
  $("paint").disabled = true;
  try {
    const answer = await api("/v1/jobs", { method: "POST", body: form });
    const body = await answer.json().catch(() => ({}));
    if (answer.status === 201) {
      openJob(body);
      loadHistory();
    } else if (answer.status === 429) {
      showError("form", `${body.detail} (about ${answer.headers.get("Retry-After")} s)`);
    } else {
      showError(body.field || "form", body.detail || `The server answered ${answer.status}.`);
    }
  } catch (error) {
    showError("form", `Could not reach the server (${error.message}).`);
  } finally {
    $("paint").disabled = false;
  }
}

// -- one job -----------------------------------------------------------------------------------

function seconds(s) {
  if (s === null || s === undefined) return "";
  return s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
}

function showProgress(p) {
  $("progress").max = p.total || 1;
  $("progress").value = p.step || 0;
  const left = p.eta !== null && p.eta !== undefined ? ` · about ${seconds(p.eta)} left` : "";
  $("status").textContent = `step ${p.step} of ${p.total}${p.stage ? ` · ${p.stage}` : ""}${left}`;
}

async function showState(job) {
  state.job = job;
  const finished = FINAL.includes(job.state);
  const sound = job.kind === "audio";
  $("cancel").hidden = finished;
  $("job-title").textContent = { queued: "Waiting for a worker", running: sound ? "Restyling the sound" : "Painting",
                                  done: "Finished", failed: "Failed", cancelled: "Cancelled" }[job.state];
  if (job.progress) showProgress(job.progress);
  if (job.state === "queued") $("status").textContent = "waiting in the queue…";
  if (job.state === "failed") $("error-job").textContent = job.error;
  if (job.state === "cancelled") $("status").textContent = `cancelled at step ${job.progress ? job.progress.step : 0}`;
  if (job.state === "done") {
    $("status").textContent = `done in ${seconds(job.finished - job.started)}`;
    $("progress").value = $("progress").max;
    if (sound) $("sound-result").src = await mediaUrl(job.urls.result);
    else $("after").src = await mediaUrl(job.urls.result);
    $("download").href = await mediaUrl(job.urls.result);
    $("download").setAttribute("download", `brushwork-${job.id}.${sound ? "wav" : "png"}`);
    $("download").textContent = sound ? "Download WAV" : "Download PNG";
    $("download").hidden = false;
    $("slider").value = sound ? 100 : 50;
    slide();
    if (sound && job.urls.preview) $("after").src = await mediaUrl(`${job.urls.preview}?step=${job.progress.preview_step}`);
  } else if (job.urls.preview) {
    $("after").src = await mediaUrl(`${job.urls.preview}?step=${job.progress.preview_step}`);
  }
}

async function openJob(job) {
  if (state.stream) state.stream.abort();
  state.urls.forEach((url) => URL.revokeObjectURL(url));
  state.urls = [];
  $("job").hidden = false;
  $("error-job").textContent = "";
  $("download").hidden = true;
  $("after").removeAttribute("src");
  $("progress").value = 0;
  $("slider").value = 100;
  slide();
  // An audio job (from the API) shows its spectrogram as it forms, and plays the sounds.
  const sound = job.kind === "audio";
  $("sound").hidden = !sound;
  $("slider").hidden = sound;
  $("before").hidden = sound;
  $("sound-result").removeAttribute("src");
  if (sound) $("sound-content").src = await mediaUrl(job.urls.content);
  else $("before").src = await mediaUrl(job.urls.content);
  $("after").alt = sound ? "the spectrogram of the sound so far" : "the painting so far";
  $("spectrogram-help").hidden = !sound;
  $("compare").classList.toggle("spectrogram", sound);
  $("new-job").textContent = sound ? "New sound" : "New painting";
  await showState(job);
  $("job").scrollIntoView({ behavior: "smooth", block: "start" });
  if (FINAL.includes(job.state)) return;
  const controller = new AbortController();
  state.stream = controller;
  follow(job.urls.events, async (name, data) => {
    if (state.job.id !== job.id) return;
    if (name === "progress" && data.step) showProgress(data);
    else if (name === "preview") $("after").src = await mediaUrl(data.url);
    else if (name === "state") { await showState(data); loadHistory(); }
  }, controller.signal).catch(() => {});
}

async function cancel() {
  if (!state.job) return;
  $("cancel").disabled = true;
  $("status").textContent = "cancelling…";
  const answer = await api(`/v1/jobs/${state.job.id}`, { method: "DELETE" });
  $("cancel").disabled = false;
  if (answer.status >= 400) $("error-job").textContent = (await answer.json()).detail;
}

function slide() {
  $("after-clip").style.clipPath = `inset(0 ${100 - Number($("slider").value)}% 0 0)`;
}

// Back to the form, for a job of the kind just shown.
function newJob() {
  const choice = document.querySelector(`input[name=kind][value=${state.job.kind}]:not(:disabled)`);
  if (choice && !choice.checked) {
    choice.checked = true;
    setKind(choice.value);
  }
  $("job-form").scrollIntoView({ behavior: "smooth" });
  $(state.kind === "audio" ? "content_sound" : "content").focus();
}

// -- history -----------------------------------------------------------------------------------

async function loadHistory() {
  const answer = await api("/v1/jobs?limit=50");
  if (!answer.ok) return;
  const { jobs } = await answer.json();
  const list = $("history");
  list.replaceChildren();
  $("history-empty").hidden = jobs.length > 0;
  for (const job of jobs) {
    const item = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    open.className = `history-item ${job.state}`;
    // A sound shows its spectrogram, once it has one; before that a note stands in for it.
    const source = job.kind === "audio" ? job.urls.preview : job.urls.result || job.urls.preview || job.urls.content;
    const picture = document.createElement(source ? "img" : "span");
    if (source) {
      picture.alt = "";
      mediaUrl(source).then((url) => { picture.src = url; });
    } else {
      picture.className = "no-picture";
      picture.textContent = "♪";
      picture.setAttribute("aria-hidden", "true");
    }
    const label = document.createElement("span");
    const when = new Date(job.created * 1000).toLocaleString();
    const how = { apply: ` · ${job.inputs.model}`, audio: " · sound" }[job.kind] || "";
    label.textContent = `${job.inputs.content}${how} · ${job.state} · ${when}`;
    open.append(picture, label);
    open.addEventListener("click", () => openJob(job));
    item.append(open);
    list.append(item);
  }
}

// -- start -------------------------------------------------------------------------------------

async function start() {
  const answer = await api("/v1/models");
  const info = await answer.json();
  for (const [kind, schemas] of Object.entries(info.settings_by_kind)) {
    state.defaults[kind] = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, schema.default]));
  }
  const { stylize, apply, audio } = state.defaults;
  $("size").max = Math.min(info.limits.max_size, 1024);
  $("size").value = Math.min(stylize.size, Number($("size").max));
  $("style_weight").value = 50;
  $("preserve_colors").value = stylize.preserve_colors;
  $("quality").value = info.settings.quality.default;
  $("strength").value = Math.round(100 * (apply && apply.strength !== undefined ? apply.strength : 1));
  $("stroke_scale").value = apply && apply.stroke_scale ? String(apply.stroke_scale) : "";
  for (const name of info.models) $("model").append(new Option(name.replace(/\.[a-z]+$/, ""), name));
  $("kind-apply").disabled = !info.kinds.includes("apply") || info.models.length === 0;
  $("kind-help").hidden = !$("kind-apply").disabled;
  // Sounds are offered only where the server runs audio jobs (its [audio] extra is installed).
  $("kind-audio-choice").hidden = $("kind-audio").disabled = !audio;
  if (audio) {
    $("init").value = audio.init;
    $("sound-limit").textContent = `, at most ${seconds(info.limits.max_audio_seconds)} each`;
  }
  document.querySelectorAll("input[name=kind]").forEach((radio) => {
    radio.addEventListener("change", () => setKind(radio.value));
  });
  // A reload may keep the last choice checked; one that is no longer offered falls back to painting.
  const chosen = document.querySelector("input[name=kind]:checked");
  if (!chosen || chosen.disabled) document.querySelector("input[name=kind][value=stylize]").checked = true;
  setKind(document.querySelector("input[name=kind]:checked").value);
  for (const name of info.examples) {
    const label = document.createElement("label");
    label.className = "example";
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "style_example";
    radio.value = name;
    radio.addEventListener("change", () => { clearErrors(); selectExample(name); });
    const picture = document.createElement("img");
    picture.src = `/static/examples/styles/${name}`;
    picture.alt = "";
    const caption = document.createElement("span");
    caption.textContent = name.replace(/\.[a-z]+$/, "");
    label.append(radio, picture, caption);
    $("examples").append(label);
  }
  showSettings();
  wireDrop("content", (file) => { showLocal($("content-thumb"), file); state.examplePhoto = false; });
  wireDrop("style", (file) => { showLocal($("style-thumb"), file); selectExample(null); });
  for (const id of ["content_sound", "style_sound"]) wireDrop(id, (file) => showSound(id, file));
  $("use-example-photo").addEventListener("click", () => {
    $("content").value = "";
    state.examplePhoto = true;
    $("content-thumb").src = "/static/examples/village.jpg";
    $("content-thumb").hidden = false;
    $("drop-content").classList.add("filled");
    clearErrors();
  });
  $("size").addEventListener("input", showSettings);
  $("style_weight").addEventListener("input", showSettings);
  $("strength").addEventListener("input", showSettings);
  $("job-form").addEventListener("submit", submit);
  $("paint").disabled = false;  // disabled in the page until the form can be sent by this script
  $("cancel").addEventListener("click", cancel);
  $("slider").addEventListener("input", slide);
  $("new-job").addEventListener("click", newJob);
  await loadHistory();
}

start();
