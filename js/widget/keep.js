// What the view shows of the event log and the turn timings, and what a user keeps (WAV
// files, downloads): pure helpers, but for `rtwDownload`, which hands a file to the browser.
//
// Assembly: as every js/widget file (see js/widget/session.js): no imports, unique
// top-level names, no side effects at import.

/**
 * @typedef {object} TurnTiming one answer's timing (the kernel's TurnTiming.as_dict())
 * @property {string} response_id
 * @property {string} item_id the answer's audio item, "" without audio
 * @property {number} ended_at epoch seconds
 * @property {number | null} to_first_audio_ms end of the user's turn -> first audio
 * @property {number | null} audio_ms first audio -> the response's end
 * @property {string} status
 * @property {boolean} after_turn timed from the end of the user's turn
 */

/**
 * @typedef {object} KernelDevice one of the kernel's devices (the `kernel_devices` trait)
 * @property {number} index PortAudio's index
 * @property {string} name
 * @property {number} input_channels
 * @property {number} output_channels
 */

/**
 * A mono 16-bit WAV file of `pcm` at `rate` Hz.
 * @param {Int16Array} pcm
 * @param {number} [rate]
 * @returns {ArrayBuffer}
 */
export function wavBytes(pcm, rate = 24000) {
  const bytes = new ArrayBuffer(44 + pcm.length * 2);
  const view = new DataView(bytes);
  /** @param {number} at @param {string} text */
  const ascii = (at, text) => {
    for (let i = 0; i < text.length; i++) view.setUint8(at + i, text.charCodeAt(i));
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + pcm.length * 2, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true); // the format chunk's size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); // bytes per second
  view.setUint16(32, 2, true); // bytes per frame
  view.setUint16(34, 16, true); // bits per sample
  ascii(36, "data");
  view.setUint32(40, pcm.length * 2, true);
  for (let i = 0; i < pcm.length; i++) view.setInt16(44 + i * 2, pcm[i], true);
  return bytes;
}

/**
 * Whether the page can choose the speakers (AudioContext.setSinkId).
 * @param {any} env usually `globalThis`
 */
export function outputChoiceSupported(env) {
  const Ctx = env.AudioContext;
  return typeof Ctx === "function" && typeof Ctx.prototype.setSinkId === "function";
}

/**
 * A turn's figures as the answer's note shows them: "first audio 820 ms, then 3.4 s".
 * @param {TurnTiming} t
 * @returns {string} "" for an answer without audio
 */
export function describeTiming(t) {
  if (t.to_first_audio_ms === null || t.audio_ms === null) return "";
  const wait = t.after_turn ? "first audio after" : "first audio after the start,";
  return `${wait} ${formatDuration(t.to_first_audio_ms)}, then ${formatDuration(t.audio_ms)}`;
}

/**
 * The timeline's bars: for each turn with audio (the last `count`), the waiting and the
 * audio as percentages of the longest turn shown.
 * @param {TurnTiming[]} timings oldest first
 * @param {number} [count]
 * @returns {{wait: number, audio: number, title: string}[]}
 */
export function timelineBars(timings, count = 12) {
  const shown = timings.filter((t) => t.to_first_audio_ms !== null && t.audio_ms !== null).slice(-count);
  const longest = Math.max(1, ...shown.map((t) => (t.to_first_audio_ms ?? 0) + (t.audio_ms ?? 0)));
  return shown.map((t) => ({
    wait: ((t.to_first_audio_ms ?? 0) * 100) / longest,
    audio: ((t.audio_ms ?? 0) * 100) / longest,
    title: describeTiming(t) + (t.status && t.status !== "completed" ? ` (${t.status})` : ""),
  }));
}

/**
 * The time of a log entry: "14:03:07.125" (local time).
 * @param {number} epochSeconds
 */
export function logTime(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  /** @param {number} n @param {number} [w] */
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/**
 * A log entry's arrow and count: "→" for an event sent to the server, "←" for one
 * received; "×42" for a run of 42.
 * @param {LogEntry} entry
 * @returns {{arrow: string, count: string}}
 */
export function logMarks(entry) {
  return { arrow: entry.direction === "sent" ? "→" : "←", count: entry.count > 1 ? `×${entry.count}` : "" };
}

/**
 * A device's name in a picker: its label, or "Microphone 2" before the page may read labels.
 * @param {{label: string}} device
 * @param {number} index
 * @param {"audioinput" | "audiooutput"} kind
 */
export function deviceLabel(device, index, kind) {
  if (device.label) return device.label;
  return `${kind === "audioinput" ? "Microphone" : "Speaker"} ${index + 1}`;
}

/**
 * A picker's options for the kernel's devices of `side` (those with channels on that side,
 * valued by index) and the value to show: the device open, `open`. When no device listed is
 * open, a first option says so (valued "" when none is open).
 * @param {unknown} devices the `kernel_devices` trait
 * @param {"input" | "output"} side
 * @param {number | null | undefined} open the index open on that side
 * @returns {{options: {label: string, value: string}[], value: string}}
 */
export function kernelDeviceOptions(devices, side, open) {
  const channels = side === "input" ? "input_channels" : "output_channels";
  const listed = Array.isArray(devices) ? /** @type {KernelDevice[]} */ (devices) : [];
  const options = listed
    .filter((d) => d !== null && typeof d === "object" && Number(d[channels]) > 0)
    .map((d) => ({ label: `Kernel: ${d.name}`, value: String(d.index) }));
  const value = typeof open === "number" ? String(open) : "";
  if (!options.some((o) => o.value === value)) {
    const what = side === "input" ? "Kernel microphone" : "Kernel speaker";
    options.unshift({ label: value === "" ? `${what}: none open` : `${what} ${value}`, value });
  }
  return { options, value };
}

/**
 * Hands `data` to the browser as a file download named `name`.
 * @param {string} name
 * @param {BlobPart} data
 * @param {string} type
 */
export function rtwDownload(name, data, type) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
