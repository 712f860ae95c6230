// melodyrnn studio: the page's behaviour. Talks only to this server's /api; loads nothing else.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
const HUES = [210, 20, 130, 280, 50, 330, 180, 90];
const state = { seed: null, track: null, audio: true, token: "" };

function setStatus(text, isError = false) {
  const el = $("#status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

// POSTs carry the studio's token (from /api/info), which only its own pages can read
async function api(path, body) {
  const init = body ? { method: "POST", body, headers: { "X-Melodyrnn-Token": state.token } } : {};
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
  if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
  return data;
}

function el(tag, attrs = {}, parent = null, ns = null) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  if (parent) parent.appendChild(node);
  return node;
}

// A piano roll: one row per pitch, bar lines with bar numbers, note names on the left;
// notes after split_seconds (the new part) drawn in a stronger colour.
function drawRoll(container, roll) {
  container.innerHTML = "";
  const notes = roll.tracks.flatMap((t, i) => t.is_drum ? [] : t.notes.map((n) => [i, ...n]));
  if (!notes.length) { el("p", { class: "muted", text: "(no notes)" }, container); return; }
  const pitches = notes.map((n) => n[3]);
  const lo = Math.min(...pitches) - 1, hi = Math.max(...pitches) + 1;
  const rowH = 7, left = 44, top = 14, width = 960;
  const height = top + (hi - lo + 1) * rowH + 4;
  const end = Math.max(roll.end_seconds, 1e-6);
  const x = (s) => left + (s / end) * (width - left - 4);
  const y = (p) => top + (hi - p) * rowH;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "piano-roll" }, container, SVG);
  for (let p = lo; p <= hi; p++) {
    const black = [1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12);
    el("rect", { x: left, y: y(p), width: width - left, height: rowH, fill: black ? "#f0f0f0" : "#fff" }, svg, SVG);
    const name = roll.note_names[p];
    if (name && (hi - lo <= 40 || p % 12 === 0)) {
      el("text", { x: left - 4, y: y(p) + rowH - 1, "font-size": 7, "text-anchor": "end", fill: "#555", text: name }, svg, SVG);
    }
  }
  roll.bars_seconds.forEach((s, i) => {
    el("line", { x1: x(s), x2: x(s), y1: top - 2, y2: height - 4, stroke: "#bbb", "stroke-width": 1, class: "bar-line" }, svg, SVG);
    el("text", { x: x(s) + 2, y: top - 4, "font-size": 8, fill: "#888", text: String(i + 1) }, svg, SVG);
  });
  const split = roll.split_seconds;
  if (split) {
    el("line", { x1: x(split), x2: x(split), y1: 0, y2: height, stroke: "#d32f2f", "stroke-dasharray": "4 3" }, svg, SVG);
  }
  for (const [track, start, stop, pitch] of notes) {
    const isNew = split !== null && split !== undefined && start >= split - 1e-6;
    const hue = HUES[track % HUES.length];
    const r = el("rect", {
      x: x(start), y: y(pitch) + 0.5, width: Math.max(x(stop) - x(start) - 0.5, 1.5), height: rowH - 1,
      rx: 1.5, fill: `hsl(${hue}, ${isNew ? 75 : 25}%, ${isNew ? 45 : 62}%)`, class: "note",
    }, svg, SVG);
    el("title", { text: `${roll.note_names[pitch] || pitch} (${roll.tracks[track].name || "track " + track})` }, r, SVG);
  }
}

function showSeed(seed) {
  state.seed = seed;
  state.track = null;  // the melody track the user picked (null: the server's choice)
  const body = $("#tracks tbody");
  body.innerHTML = "";
  $("#tracks").hidden = !seed;
  $("#seed-name").textContent = seed ? `Seed: ${seed.name}` : "No seed: the model starts from nothing.";
  $("#model-reason").textContent = seed ? (seed.model_reason || `model: ${seed.model}`) : "";
  $("#seed-roll").innerHTML = "";
  if (!seed) return;
  for (const t of seed.tracks) {
    const tr = el("tr", {}, body);
    const cell = el("td", {}, tr);
    const radio = el("input", { type: "radio", name: "melody-track", value: String(t.index) }, cell);
    radio.checked = t.melody;
    radio.disabled = t.is_drum || !t.notes;
    radio.addEventListener("change", () => { state.track = radio.value; });
    const span = t.notes ? `${t.pitch_low}-${t.pitch_high}` : "-";
    for (const v of [t.index, t.name || "(unnamed)", t.program, t.notes, t.polyphony, span]) el("td", { text: String(v) }, tr);
  }
  drawRoll($("#seed-roll"), seed.roll);
}

async function openSeed(body, label) {
  setStatus(`opening ${label}...`);
  try {
    showSeed(await api("/api/seeds", body));
    setStatus(`opened ${label}`);
  } catch (e) {
    showSeed(null);
    setStatus(e.message, true);
  }
}

function optionsForm() {
  const fd = new FormData();
  const form = $("#options");
  for (const input of form.elements) {
    if (!input.name) continue;
    if (input.type === "checkbox") fd.append(input.name, input.checked ? "true" : "false");
    else if (input.value !== "") fd.append(input.name, input.value);
  }
  if (state.seed) {
    fd.append("seed_id", state.seed.id);
    const model = fd.get("model") || state.seed.model;
    if (state.track !== null && model !== "chorale") fd.append("track", state.track);
  }
  return fd;
}

function outputCard(out, regenerate) {
  const card = el("div", { class: "output", "data-id": out.id });
  const bits = out.bits_per_note === null ? "-" : out.bits_per_note.toFixed(3);
  el("h3", { text: `${out.name} · ${out.new_notes} new notes · ${bits} bits/note · ${out.model}${out.key ? " · " + out.key : ""}` }, card);
  drawRoll(el("div", { class: "roll" }, card), out.roll);
  const controls = el("div", { class: "controls" }, card);
  if (state.audio === true) {
    el("audio", { controls: "", preload: "metadata", src: out.audio_url }, controls);
  } else {
    el("span", { class: "muted", text: `no audio: ${state.audio}` }, controls);
  }
  el("a", { href: out.midi_url, download: out.name, class: "download", text: "Download MIDI" }, controls);
  const again = el("button", { type: "button", class: "regenerate", text: "Regenerate" }, controls);
  again.addEventListener("click", () => regenerate(card, again));
  return card;
}

function showOutputs(entry) {
  const box = $("#outputs");
  box.innerHTML = "";
  entry.outputs.forEach((out, k) => {
    const regenerate = async (card, button) => {
      button.disabled = true;
      setStatus("regenerating...");
      try {
        // the generation's own settings, one output, a seed of its own (reproducible)
        entry.regenerated = (entry.regenerated || 0) + 1;
        const seed = Number(entry.fields.seed || 0) + 1000 * entry.regenerated + k;
        const fd = new FormData();
        for (const [name, value] of Object.entries(entry.fields)) fd.append(name, value);
        fd.delete("num-outputs");
        fd.set("num_outputs", "1");
        fd.set("seed", String(seed));
        const data = await api("/api/generate", fd);
        entry.outputs[k] = data.outputs[0];
        card.replaceWith(outputCard(entry.outputs[k], regenerate));
        addHistory(data);  // a generation of its own
        setStatus(`regenerated output ${k + 1} (seed ${seed})`);
      } catch (e) { setStatus(e.message, true); button.disabled = false; }
    };
    box.appendChild(outputCard(out, regenerate));
  });
}

// entry: a generation as the API answers it ({time, label, fields, outputs})
function addHistory(entry) {
  const li = el("li", { text: `${entry.time} ${entry.label}` });
  li.addEventListener("click", () => showOutputs(entry));
  $("#history").prepend(li);
}

async function generate(event) {
  event.preventDefault();
  const button = $("#generate");
  button.disabled = true;
  setStatus("generating...");
  try {
    const started = performance.now();
    const fd = optionsForm();
    const data = await api("/api/generate", fd);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    addHistory(data);
    showOutputs(data);
    setStatus(`${data.outputs.length} outputs in ${secs} s`);
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    button.disabled = false;
  }
}

async function init() {
  const info = await api("/api/info");
  state.audio = info.audio;
  state.token = info.token;
  $("#options").elements.seed.value = String(info.seed);
  for (const m of info.models) el("option", { value: m, text: m }, $("#model"));
  if (info.models.includes("custom")) $("#model").value = "custom";  // melodyrnn studio --model
  for (const s of info.samples) el("option", { value: s, text: s }, $("#sample"));
  $("#seed-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const fd = new FormData();
    fd.append("midi", file, file.name);
    openSeed(fd, file.name);
  });
  $("#sample").addEventListener("change", (e) => {
    if (!e.target.value) return;
    const fd = new FormData();
    fd.append("sample", e.target.value);
    openSeed(fd, e.target.value);
  });
  $("#no-seed").addEventListener("click", () => { showSeed(null); setStatus("no seed"); });
  $("#options").addEventListener("submit", generate);
  for (const h of (await api("/api/history")).history) {  // generations before a reload
    if (h.outputs.length) addHistory(h);
  }
  setStatus(info.audio === true ? "ready" : `ready (no audio: ${info.audio})`);
  document.body.dataset.ready = "true";
}

init().catch((e) => setStatus(e.message, true));
