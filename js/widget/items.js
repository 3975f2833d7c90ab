// Conversation items as the browser knows them, kernel message checks, and labels: pure.
//
// Assembly (see realtime_widget/widget/frontend.py): the widget's one ES module is js/lib/*.js with
// `export ` stripped, then js/widget/*.js as they are, then js/widget.js. So this file has no
// imports, declares top-level names unique across js/lib and js/widget, and has no side
// effects at import; the lib declarations are in scope.

/**
 * @typedef {object} ItemSummary one conversation item as the kernel summarizes it
 * @property {string} id
 * @property {string} type
 * @property {string} role
 * @property {string} status
 * @property {string} text
 * @property {string} transcript
 * @property {string} name
 * @property {string} arguments
 * @property {string} output
 * @property {string} call_id
 * @property {number} audio_ms
 * @property {number} images
 * @property {"running" | "done" | "error" | null} tool_state
 * @property {number | null} tool_ms
 * @property {number | null} truncated_ms
 * @property {number | null} full_ms with truncated_ms: the audio the item held when it was cut
 * @property {string} transcription_error
 * @property {string} server_label MCP items: the server's label
 * @property {"pending" | "approved" | "denied" | ""} approval an MCP approval request's state
 * @property {number} rev the kernel's revision when it made this summary (0: made here)
 */

/**
 * @typedef {object} ItemStore conversation items as the browser knows them
 * @property {Map<string, ItemSummary>} items by id
 * @property {string[]} order ids in conversation order
 * @property {Map<string, number>} removed recently removed ids: the removal's revision
 * @property {Map<string, string>} calls function call item ids by call_id (check the item)
 */

/**
 * @typedef {object} StoreChanges what applying an `items` state changed
 * @property {string[]} changed ids added or whose summary changed, in order
 * @property {string[]} removed ids gone
 * @property {boolean} reordered whether items kept moved relative to each other
 */

/**
 * @typedef {{type: "delta", item_id: string, field: "text" | "transcript" | "arguments", delta: string}
 *   | {type: "audio", item_id: string, data: ArrayBuffer}
 *   | {type: "audio_done", item_id: string}
 *   | {type: "interrupt"}
 *   | {type: "mic_check"}
 *   | {type: "item", item: ItemSummary}
 *   | {type: "item_removed", item_id: string, rev: number}
 *   | {type: "snapshot", items: ItemSummary[], audio_sent: Map<string, number>,
 *       log: LogEntry[] | null}
 *   | {type: "log", entries: LogEntry[], reset: boolean}
 *   | {type: "transcript", format: "markdown" | "json", text: string}
 *   | {type: "item_audio", item_id: string, purpose: "play" | "download", data: ArrayBuffer}
 *   | {type: "item_images", item_id: string, urls: string[]}
 *   | {type: "probe_echo", id: string, intact: boolean}
 *   | {type: "page_socket", url: string}
 *   | {type: "comm_off", id: string}
 *   | {type: "call", request: string, url: string, secret: string, timeout_ms: number}
 *   | {type: "hang_up", call_id: string | null}} KernelMessage
 */

/**
 * @typedef {object} LogEntry one event (or a run of the same streamed type) of the event log
 * @property {number} seq increases per entry; an entry that grows keeps its seq
 * @property {number} time epoch seconds
 * @property {"sent" | "received"} direction sent: client to server
 * @property {string} type
 * @property {string} summary
 * @property {number} count
 */

/**
 * @typedef {object} AnyModel the part of anywidget's model the widget uses
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(content: any, callbacks?: any, buffers?: ArrayBuffer[]) => void} send
 * @property {(name: string, callback: Function) => void} on
 * @property {(name: string | null, callback?: Function | null) => void} off
 */


const RTW_DELTA_FIELDS = ["text", "transcript", "arguments"];
const RTW_PLAYED_INTERVAL_MS = 200;
const RTW_MAX_PENDING_AUDIO = 2000;
// A session whose last view went away stays live this long before it stops its audio: a
// view disposed and rendered again at once (a cell moved) keeps the microphone going.
const RTW_ORPHAN_MS = 250;
// Removals remembered, so that an `items` state taken before one cannot bring the item back.
const RTW_MAX_REMOVED = 256;

// Merging (the kernel's rules are in realtime_widget/widget/messages.py): every summary
// carries the kernel's revision when it was made, and the store keeps the newest of what it
// got, whatever the order messages and trait states are handled in. An `item` or `snapshot`
// summary replaces one of the same or a lower revision (a snapshot's has the same revision
// and the text streamed since). An `items` state (taken at revision R) replaces only lower
// revisions: the store's copy of an equal one may hold streamed text on top. It adds what
// the store lacks unless the store saw it removed after R, and removes what it does not list
// unless the store got it after R (revision above R).

/** @returns {ItemStore} an empty store */
export function createItemStore() {
  return { items: new Map(), order: [], removed: new Map(), calls: new Map() };
}

/**
 * A summary with every field of the right type (missing or wrong ones get defaults).
 * @param {any} raw
 * @returns {ItemSummary | null} null when `raw` has no usable id
 */
export function normalizeSummary(raw) {
  if (raw === null || typeof raw !== "object" || typeof raw.id !== "string" || raw.id === "") {
    return null;
  }
  /** @param {any} v */
  const str = (v) => (typeof v === "string" ? v : "");
  /** @param {any} v */
  const num = (v) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);
  const state = raw.tool_state;
  return {
    id: raw.id,
    type: str(raw.type),
    role: str(raw.role),
    status: str(raw.status),
    text: str(raw.text),
    transcript: str(raw.transcript),
    name: str(raw.name),
    arguments: str(raw.arguments),
    output: str(raw.output),
    call_id: str(raw.call_id),
    audio_ms: num(raw.audio_ms) ?? 0,
    images: num(raw.images) ?? 0,
    tool_state: state === "running" || state === "done" || state === "error" ? state : null,
    tool_ms: num(raw.tool_ms),
    truncated_ms: num(raw.truncated_ms),
    full_ms: num(raw.full_ms),
    transcription_error: str(raw.transcription_error),
    server_label: str(raw.server_label),
    approval: raw.approval === "pending" || raw.approval === "approved" || raw.approval === "denied" ? raw.approval : "",
    rev: Number.isSafeInteger(raw.rev) && raw.rev >= 0 ? raw.rev : 0,
  };
}

/**
 * Stores one summary under its id (the caller has placed the id in `order`).
 * @param {ItemStore} store
 * @param {ItemSummary} summary
 */
function rtwStoreSummary(store, summary) {
  store.items.set(summary.id, summary);
  if (summary.type === "function_call" && summary.call_id) store.calls.set(summary.call_id, summary.id);
}

/**
 * The function call item with `callId`, if the store holds one.
 * @param {ItemStore} store
 * @param {string} callId
 * @returns {ItemSummary | undefined}
 */
export function callOf(store, callId) {
  const id = store.calls.get(callId);
  const item = id === undefined ? undefined : store.items.get(id);
  return item !== undefined && item.type === "function_call" && item.call_id === callId ? item : undefined;
}

/**
 * Merges an `items` trait state ({rev, items}: every summary, in order) into the store.
 * A bare list (a state saved by an older version) counts as taken after everything.
 * @param {ItemStore} store
 * @param {any} state the trait value
 * @returns {StoreChanges}
 */
export function applySummaries(store, state) {
  const bare = Array.isArray(state);
  const list = bare ? state : state !== null && typeof state === "object" && Array.isArray(state.items) ? state.items : [];
  const taken = bare ? Infinity : Number.isSafeInteger(state && state.rev) ? state.rev : 0;
  /** @type {Set<string>} */
  const listed = new Set();
  /** @type {string[]} */
  const order = [];
  /** @type {string[]} */
  const changed = [];
  for (const raw of list) {
    const summary = normalizeSummary(raw);
    if (summary === null || listed.has(summary.id)) continue;
    listed.add(summary.id);
    const gone = store.removed.get(summary.id);
    if (gone !== undefined && gone > taken) continue; // removed after this state was taken
    const old = store.items.get(summary.id);
    if (old === undefined || summary.rev > old.rev) {
      if (old === undefined || !sameSummary(old, summary)) changed.push(summary.id);
      rtwStoreSummary(store, summary);
    }
    order.push(summary.id);
  }
  /** @type {string[]} */
  const removed = [];
  /** @type {string[]} */
  const later = [];
  for (const id of store.order) {
    if (listed.has(id)) continue;
    const item = /** @type {ItemSummary} */ (store.items.get(id));
    if (item.rev > taken || item.rev === 0) later.push(id); // newer than the state: kept
    else {
      store.items.delete(id);
      removed.push(id);
    }
  }
  for (const [id, rev] of store.removed) if (rev <= taken) store.removed.delete(id);
  const kept = store.order.filter((id) => store.items.has(id));
  const next = [...order, ...later];
  const position = new Map(next.map((id, index) => [id, index]));
  let reordered = false;
  let last = -1;
  for (const id of kept) {
    const index = /** @type {number} */ (position.get(id));
    if (index < last) {
      reordered = true;
      break;
    }
    last = index;
  }
  store.order = next;
  return { changed, removed, reordered };
}

/**
 * Applies one item summary (from an `item` or `snapshot` message); a new id goes last. A
 * summary older than the one held, or than the item's removal, is ignored.
 * @param {ItemStore} store
 * @param {any} raw
 * @returns {ItemSummary | null} the stored summary, null when `raw` is not one or is older
 */
export function applyItemSummary(store, raw) {
  const summary = normalizeSummary(raw);
  if (summary === null) return null;
  const old = store.items.get(summary.id);
  if (old !== undefined && summary.rev < old.rev) return null;
  const gone = store.removed.get(summary.id);
  if (gone !== undefined) {
    if (summary.rev <= gone) return null;
    store.removed.delete(summary.id);
  }
  if (old === undefined) store.order.push(summary.id);
  rtwStoreSummary(store, summary);
  return summary;
}

/**
 * Removes an item (an `item_removed` message) and remembers the removal, so that an older
 * summary or `items` state cannot bring it back.
 * @param {ItemStore} store
 * @param {string} id
 * @param {number} rev the removal's revision
 * @returns {boolean} whether the store held the item
 */
export function removeItem(store, id, rev) {
  const old = store.items.get(id);
  if (old !== undefined && old.rev > rev) return false; // made again since
  store.removed.delete(id);
  store.removed.set(id, rev);
  if (store.removed.size > RTW_MAX_REMOVED) {
    store.removed.delete(/** @type {string} */ (store.removed.keys().next().value));
  }
  if (old === undefined) return false;
  store.items.delete(id);
  const index = store.order.lastIndexOf(id);
  if (index >= 0) store.order.splice(index, 1);
  return true;
}

/**
 * Appends a streamed piece to its item; an unknown id gets a placeholder assistant item
 * (revision 0), a removed one nothing.
 * @param {ItemStore} store
 * @param {{item_id: string, field: "text" | "transcript" | "arguments", delta: string}} msg
 * @returns {ItemSummary | null} the item, null when it was removed
 */
export function applyDelta(store, msg) {
  let item = store.items.get(msg.item_id);
  if (item === undefined) {
    if (store.removed.has(msg.item_id)) return null;
    item = /** @type {ItemSummary} */ (
      normalizeSummary({
        id: msg.item_id,
        type: msg.field === "arguments" ? "function_call" : "message",
        role: msg.field === "arguments" ? "" : "assistant",
        status: "in_progress",
      })
    );
    store.items.set(item.id, item);
    store.order.push(item.id);
  }
  item[msg.field] += msg.delta;
  return item;
}

/**
 * Whether two summaries say the same of their item (their revisions aside).
 * @param {ItemSummary} a
 * @param {ItemSummary} b
 */
function sameSummary(a, b) {
  for (const key of /** @type {(keyof ItemSummary)[]} */ (Object.keys(a))) {
    if (key !== "rev" && a[key] !== b[key]) return false;
  }
  return true;
}

/**
 * Checks a kernel message; returns it, or null when it is malformed (it is then ignored).
 * @param {any} msg
 * @param {any[]} [buffers]
 * @returns {KernelMessage | null}
 */
export function parseKernelMessage(msg, buffers = []) {
  if (msg === null || typeof msg !== "object") return null;
  const id = typeof msg.item_id === "string" && msg.item_id !== "" ? msg.item_id : null;
  switch (msg.type) {
    case "delta":
      if (id === null || !RTW_DELTA_FIELDS.includes(msg.field) || typeof msg.delta !== "string") {
        return null;
      }
      return { type: "delta", item_id: id, field: msg.field, delta: msg.delta };
    case "audio": {
      const data = id === null ? null : rtwAudioOf(msg, buffers);
      return id === null || data === null ? null : { type: "audio", item_id: id, data };
    }
    case "audio_done":
      return id === null ? null : { type: "audio_done", item_id: id };
    case "interrupt":
      return { type: "interrupt" };
    case "mic_check":
      return { type: "mic_check" };
    case "item":
      return normalizeSummary(msg.item) === null ? null : { type: "item", item: msg.item };
    case "item_removed":
      if (id === null || !Number.isSafeInteger(msg.rev) || msg.rev < 0) return null;
      return { type: "item_removed", item_id: id, rev: msg.rev };
    case "snapshot": {
      if (!Array.isArray(msg.items)) return null;
      /** @type {Map<string, number>} */
      const sent = new Map();
      const raw = msg.audio_sent;
      if (raw !== null && typeof raw === "object") {
        for (const [key, value] of Object.entries(raw)) {
          if (key !== "" && Number.isInteger(value) && value >= 0) sent.set(key, value);
        }
      }
      const log = Array.isArray(msg.log) ? rtwLogEntries(msg.log) : null; // null: no log sent
      return { type: "snapshot", items: msg.items, audio_sent: sent, log };
    }
    case "log":
      if (!Array.isArray(msg.entries)) return null;
      return { type: "log", entries: rtwLogEntries(msg.entries), reset: msg.reset === true };
    case "transcript":
      if ((msg.format !== "markdown" && msg.format !== "json") || typeof msg.text !== "string") return null;
      return { type: "transcript", format: msg.format, text: msg.text };
    case "item_audio": {
      const data = id === null ? null : rtwAudioOf(msg, buffers);
      if (id === null || data === null) return null;
      return { type: "item_audio", item_id: id, purpose: msg.purpose === "download" ? "download" : "play", data };
    }
    case "probe_echo":
      return typeof msg.id === "string" ? { type: "probe_echo", id: msg.id, intact: msg.intact === true } : null;
    case "page_socket":
      return rtwIsPageSocketUrl(msg.url) ? { type: "page_socket", url: msg.url } : null;
    case "comm_off":
      return typeof msg.id === "string" ? { type: "comm_off", id: msg.id } : null;
    case "item_images":
      if (id === null || !Array.isArray(msg.urls)) return null;
      return { type: "item_images", item_id: id, urls: msg.urls.filter(isImageDataUrl) };
    case "call": {
      const texts = [msg.request, msg.url, msg.secret];
      if (!texts.every((t) => typeof t === "string" && t !== "") || !/^https?:\/\//.test(msg.url)) return null;
      const timeout = Number.isSafeInteger(msg.timeout_ms) && msg.timeout_ms > 0 ? msg.timeout_ms : 15000;
      return { type: "call", request: msg.request, url: msg.url, secret: msg.secret, timeout_ms: timeout };
    }
    case "hang_up":
      return { type: "hang_up", call_id: typeof msg.call_id === "string" ? msg.call_id : null };
    default:
      return null;
  }
}

/**
 * The usable entries of a list, normalized.
 * @param {any[]} list
 * @returns {LogEntry[]}
 */
function rtwLogEntries(list) {
  /** @type {LogEntry[]} */
  const entries = [];
  for (const raw of list) {
    const entry = normalizeLogEntry(raw);
    if (entry !== null) entries.push(entry);
  }
  return entries;
}

/**
 * A log entry with every field of the right type, or null when it has no usable seq.
 * @param {any} raw
 * @returns {LogEntry | null}
 */
export function normalizeLogEntry(raw) {
  if (raw === null || typeof raw !== "object" || !Number.isSafeInteger(raw.seq)) return null;
  return {
    seq: raw.seq,
    time: typeof raw.time === "number" && Number.isFinite(raw.time) ? raw.time : 0,
    direction: raw.direction === "sent" ? "sent" : "received",
    type: typeof raw.type === "string" ? raw.type : "?",
    summary: typeof raw.summary === "string" ? raw.summary : "",
    count: Number.isSafeInteger(raw.count) && raw.count > 0 ? raw.count : 1,
  };
}

/**
 * Whether `url` is an image carried in the page (a `data:image/...` URL, never a link out).
 * @param {any} url
 * @returns {url is string}
 */
export function isImageDataUrl(url) {
  return typeof url === "string" && /^data:image\/(png|jpeg|gif|webp|bmp);base64,/.test(url);
}

/**
 * A short human duration: "850 ms", "2.3 s", "1 min 05 s".
 * @param {number | null | undefined} ms
 * @returns {string} "" for a missing or negative value
 */
export function formatDuration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s`;
}

/**
 * Width of a level meter, in percent: -60 dBFS and below is empty, 0 dBFS full.
 * @param {number} rms linear level, 1 = full scale
 * @returns {number} 0..100
 */
export function meterPercent(rms) {
  const db = dbfs(rms, -60);
  return Math.round(((db + 60) / 60) * 100);
}

/**
 * The role as shown above a message.
 * @param {string} role
 */
export function roleLabel(role) {
  if (role === "user") return "You";
  if (role === "assistant") return "Assistant";
  if (role === "system") return "System";
  return role || "Item";
}

/**
 * An MCP item's label: its server's label and its tool.
 * @param {ItemSummary} item
 */
function rtwMcpLabel(item) {
  return `${item.server_label || "mcp"} · ${item.name || "tool"}`;
}

/**
 * How an item shows in the transcript.
 * @param {ItemSummary} item
 * @param {ItemStore} store
 * @returns {{kind: "message" | "tool" | "output" | "hidden", label: string, notes: string[],
 *   placeholder: string}}
 */
export function describeItem(item, store) {
  /** @type {string[]} */
  const notes = [];
  if (item.type === "mcp_approval_request") {
    if (item.approval === "pending") notes.push("waiting for approval");
    else if (item.approval === "approved") notes.push("approved");
    else if (item.approval === "denied") notes.push("denied");
    else notes.push("approval asked");
    return { kind: "tool", label: rtwMcpLabel(item), notes, placeholder: "" };
  }
  if (item.type === "mcp_list_tools") {
    notes.push(item.status === "failed" ? "listing failed" : item.status === "completed" ? "listed" : "listing");
    return { kind: "output", label: `MCP tools of ${item.server_label || "a server"}`, notes, placeholder: "" };
  }
  if (item.type === "mcp_approval_response") return { kind: "hidden", label: "", notes, placeholder: "" };
  if (item.type === "function_call" || item.type === "mcp_call") {
    if (item.tool_state === "running") notes.push("running");
    else if (item.tool_state === "done") notes.push("done");
    else if (item.tool_state === "error") notes.push("failed");
    else if (item.status === "in_progress") notes.push("calling");
    if (item.tool_ms !== null) notes.push(formatDuration(item.tool_ms));
    const label = item.type === "mcp_call" ? rtwMcpLabel(item) : item.name || "tool";
    return { kind: "tool", label, notes, placeholder: "" };
  }
  if (item.type === "function_call_output") {
    if (callOf(store, item.call_id) !== undefined) return { kind: "hidden", label: "", notes, placeholder: "" };
    return { kind: "output", label: "tool output", notes, placeholder: "" };
  }
  if (item.images > 0) notes.push(item.images === 1 ? "image" : `${item.images} images`);
  if (item.truncated_ms !== null) {
    const held = Math.max(item.full_ms ?? 0, item.audio_ms);
    const of = held > item.truncated_ms ? ` of ${formatDuration(held)}` : "";
    notes.push(`interrupted after ${formatDuration(item.truncated_ms)}${of}`);
  } else if (item.status === "incomplete") {
    if (item.audio_ms > 0) notes.push(`audio ${formatDuration(item.audio_ms)}`);
    notes.push("cut short");
  } else if (item.audio_ms > 0) {
    const finished = item.role === "assistant" && item.status === "completed";
    notes.push(finished ? `finished, ${formatDuration(item.audio_ms)}` : `audio ${formatDuration(item.audio_ms)}`);
  }
  if (item.transcription_error) notes.push(`transcription failed: ${item.transcription_error}`);
  let placeholder = "";
  if (!item.text && !item.transcript) {
    if (item.status === "in_progress") placeholder = "…";
    else if (item.audio_ms > 0 || (item.role === "user" && item.images === 0)) placeholder = "(speech)";
  }
  return { kind: "message", label: roleLabel(item.role), notes, placeholder };
}

/**
 * How an item shows as a caption (a transcription session): a user message as
 * `describeItem` has it; anything else hidden.
 * @param {ItemSummary} item
 * @param {ItemStore} store
 * @returns {ReturnType<typeof describeItem>}
 */
export function describeCaption(item, store) {
  const view = describeItem(item, store);
  if (view.kind === "message" && item.role === "user") return view;
  return { kind: "hidden", label: "", notes: [], placeholder: "" };
}

/**
 * Why the microphone cannot be used here, or null when it can be tried.
 * @param {{isSecureContext?: boolean, mediaDevices?: any, AudioContext?: any,
 *   AudioWorkletNode?: any}} env usually `globalThis` plus `navigator.mediaDevices`
 * @returns {string | null}
 */
export function micUnsupportedReason(env) {
  if (env.isSecureContext === false) {
    return "The microphone needs a secure page (https or localhost). Open the notebook over https or from localhost.";
  }
  if (!env.mediaDevices || typeof env.mediaDevices.getUserMedia !== "function") {
    return "This page cannot use a microphone (no media devices here). VS Code and some hosted notebooks block it: try JupyterLab in a browser.";
  }
  if (typeof env.AudioContext !== "function" || typeof env.AudioWorkletNode !== "function") {
    return "This browser has no AudioWorklet support: use a current Chrome, Edge, Firefox or Safari.";
  }
  return null;
}

/**
 * The mic state and message for a getUserMedia failure.
 * @param {any} err
 * @returns {{mic: "denied" | "unsupported", message: string}}
 */
export function micErrorState(err) {
  const name = err && typeof err.name === "string" ? err.name : "";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return {
      mic: "denied",
      message: "Microphone access was denied. Allow it in the browser's site settings (the icon left of the address), then press Mic again.",
    };
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
    return { mic: "unsupported", message: "No microphone was found. Plug one in, then press Mic again." };
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return {
      mic: "unsupported",
      message: "The microphone is busy or could not be started (another application may be using it).",
    };
  }
  const detail = err && typeof err.message === "string" && err.message ? `: ${err.message}` : "";
  return { mic: "unsupported", message: `The microphone could not be started${detail}` };
}

/**
 * The message for a microphone that opened but could not be connected to the audio engine
 * (the mic state is then "unsupported").
 * @param {any} err what `createMediaStreamSource` or the capture node threw
 * @returns {string}
 */
export function micConnectMessage(err) {
  const name = err && typeof err.name === "string" ? err.name : "";
  const detail = err && typeof err.message === "string" && err.message ? ` (${err.message})` : "";
  if (name === "NotSupportedError") {
    return `This browser cannot connect the microphone to the audio engine${detail}. Its sample rate may differ from the speakers': try Chrome or Edge, or another microphone.`;
  }
  return `The microphone could not be connected to the audio engine${detail}.`;
}

/**
 * Whether a "played" progress report is due (throttling per item).
 * @param {number | undefined} lastSent time of the last report, undefined if none
 * @param {number} now
 * @param {number} [interval]
 */
export function playedReportDue(lastSent, now, interval = RTW_PLAYED_INTERVAL_MS) {
  return lastSent === undefined || now - lastSent >= interval;
}
