// RtwView, one per rendered output: builds the DOM and keeps it in step with the session.
// Every piece of model or user text is set with textContent or a Text node, never parsed as
// HTML.
//
// Items render incrementally: the whole list only when the view is made (or when an `items`
// state moved items relative to each other); after that, each change touches the nodes of
// the items it names (a new item's nodes go in before the next item's that has nodes) and a
// streamed piece is appended to its Text node. Handling a change reads no layout (a read
// after a change makes the browser lay out the whole log at once, for each message): the
// log follows its end unless the user scrolled up from it (a scroll listener says which),
// and scrolls there once per frame. So the cost of handling an item change does not grow
// with the conversation.
//
// Assembly (see realtime_widget/widget/frontend.py): the widget's one ES module is js/lib/*.js with
// `export ` stripped, then js/widget/*.js as they are, then js/widget.js. So this file has no
// imports, declares top-level names unique across js/lib and js/widget, and has no side
// effects at import; the lib declarations are in scope.

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text] set as textContent
 * @returns {HTMLElement}
 */
function rtwElement(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

const RTW_CONNECTION_LABELS = /** @type {Record<string, string>} */ ({
  disconnected: "Disconnected",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  error: "Connection error",
});

const RTW_TURN_LABELS = [
  ["server_vad", "Voice activity"],
  ["semantic_vad", "Semantic voice activity"],
  ["manual", "Push to talk"],
];

/**
 * @typedef {object} ItemNodes the DOM of one item
 * @property {HTMLElement} root
 * @property {HTMLElement} label
 * @property {HTMLElement} notes
 * @property {Text} text
 * @property {Text} transcript
 * @property {HTMLElement} placeholder
 * @property {HTMLElement} actions the replay and download buttons
 * @property {HTMLElement} [thumbs] the images' thumbnails
 * @property {Text} [args]
 * @property {HTMLElement} [output]
 * @property {HTMLElement} [approval] an MCP approval request's approve and deny buttons
 * @property {string} kind
 * @property {boolean} shown not hidden (counted in `RtwView.visible`)
 * @property {string} callId the item's call_id
 */

/** One rendered view of the widget. */
export class RtwView {
  /**
   * @param {RtwSession} session
   * @param {AnyModel} model
   * @param {HTMLElement} el
   */
  constructor(session, model, el) {
    this.session = session;
    this.model = model;
    this.el = el;
    /** @type {Map<string, ItemNodes>} */
    this.nodes = new Map();
    /** items shown (not hidden): the "no messages" line shows when there is none */
    this.visible = 0;
    /** @type {Map<string, string>} function call output items with nodes, by call_id */
    this.outputs = new Map();
    /** the log follows its end (the user has not scrolled up from it) */
    this.following = true;
    /** where the last scroll to the end left the log */
    this.endTop = 0;
    /** @type {(() => void) | null} cancels the scroll to the end due at the next frame */
    this.scrollDue = null;
    /** @type {(() => void)[]} */
    this.cleanups = [];
    /** @type {Map<string, TurnTiming>} the timings shown on answers, by item id */
    this.timings = new Map();
    /** @type {string | null} the item whose replay button reads "Stop replay" */
    this.replayShown = null;
    /** a short-lived notice (a copy done, a choice that failed) */
    this.flashText = "";
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.flashTimer = null;
    /** the page's host, and whether its microphone and speakers can be used here */
    this.page = rtwDetectHost(typeof window !== "undefined" ? window : globalThis);
    /** a transcription session: the user's transcripts as captions, nothing to answer */
    this.captions = this.model.get("session_type") === "transcription";
    // The parts build() makes (declared here for the type checker).
    /** @type {HTMLElement} */ this.root;
    /** @type {HTMLButtonElement} */ this.connectButton;
    /** @type {HTMLElement} */ this.statePill;
    /** @type {HTMLElement} */ this.stateDot;
    /** @type {HTMLElement} */ this.stateText;
    /** @type {HTMLSelectElement} */ this.turnSelect;
    /** @type {HTMLButtonElement} */ this.micButton;
    /** @type {HTMLButtonElement} */ this.pttButton;
    /** @type {HTMLButtonElement} */ this.stopButton;
    /** @type {HTMLElement} */ this.inMeter;
    /** @type {HTMLElement} */ this.outMeter;
    /** @type {HTMLElement} */ this.errorBanner;
    /** @type {HTMLElement} */ this.errorText;
    /** @type {HTMLButtonElement} */ this.errorClose;
    /** @type {HTMLElement} */ this.notice;
    /** @type {HTMLElement} */ this.tools;
    /** @type {HTMLElement} */ this.log;
    /** @type {HTMLElement} */ this.empty;
    /** @type {HTMLFormElement} */ this.form;
    /** @type {HTMLInputElement} */ this.input;
    /** @type {HTMLButtonElement} */ this.sendButton;
    /** @type {RtwControls} */ this.controls;
    /** @type {RtwActivity} */ this.activity;
    this.build();
  }

  build() {
    const root = rtwElement("div", "rtw");
    root.dataset.lmSuppressShortcuts = "true";
    root.dataset.host = this.page.host;
    this.root = root;

    const bar = rtwElement("div", "rtw-bar");
    this.connectButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-connect"));
    this.statePill = rtwElement("span", "rtw-state");
    this.stateDot = rtwElement("span", "rtw-dot");
    this.stateText = rtwElement("span", "rtw-state-text");
    this.statePill.append(this.stateDot, this.stateText);
    this.turnSelect = /** @type {HTMLSelectElement} */ (rtwElement("select", "rtw-select rtw-turn"));
    this.turnSelect.title = "How turns are taken";
    for (const [value, label] of RTW_TURN_LABELS) {
      const option = /** @type {HTMLOptionElement} */ (rtwElement("option", "", label));
      option.value = value;
      this.turnSelect.append(option);
    }
    this.micButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-mic"));
    this.pttButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-ptt", "Hold to talk"));
    this.stopButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-stop", "Stop playback"));
    this.stopButton.title = "Stop the model's answer where it is";
    const meters = rtwElement("div", "rtw-meters");
    this.inMeter = rtwElement("div", "rtw-meter-fill");
    this.outMeter = rtwElement("div", "rtw-meter-fill");
    for (const [label, fill, title] of [
      ["in", this.inMeter, "Microphone level"],
      ["out", this.outMeter, "Voice level"],
    ]) {
      const meter = rtwElement("div", "rtw-meter");
      meter.title = /** @type {string} */ (title);
      const track = rtwElement("div", "rtw-meter-track");
      track.append(/** @type {HTMLElement} */ (fill));
      meter.append(rtwElement("span", "rtw-meter-label", /** @type {string} */ (label)), track);
      meters.append(meter);
    }
    const spacer = rtwElement("span", "rtw-spacer");
    bar.append(this.connectButton, this.statePill, spacer, this.turnSelect, this.micButton, this.pttButton, this.stopButton, meters);

    this.errorBanner = rtwElement("div", "rtw-banner rtw-error");
    this.errorBanner.setAttribute("role", "alert");
    this.errorText = rtwElement("span", "rtw-banner-text");
    this.errorClose = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-banner-close", "×"));
    this.errorClose.title = "Dismiss";
    this.errorBanner.append(this.errorText, this.errorClose);
    this.notice = rtwElement("div", "rtw-banner rtw-notice");
    this.tools = rtwElement("div", "rtw-tools");

    this.log = rtwElement("div", "rtw-log");
    this.log.setAttribute("aria-live", "polite");
    this.empty = rtwElement("div", "rtw-empty", "No messages yet. Connect, then speak or type.");
    this.log.append(this.empty);
    const controlsRow = rtwElement("div", "rtw-bar rtw-controls");
    const timeline = rtwElement("div", "rtw-timeline");
    timeline.title = "The last turns: waiting for the first audio, then the audio";
    const activityRow = rtwElement("div", "rtw-activity-holder");

    this.form = /** @type {HTMLFormElement} */ (rtwElement("form", "rtw-input"));
    this.input = /** @type {HTMLInputElement} */ (rtwElement("input", "rtw-text"));
    this.input.type = "text";
    this.input.placeholder = "Type a message…";
    this.input.setAttribute("aria-label", "Message");
    this.sendButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-send", "Send"));
    this.sendButton.type = "submit";
    this.form.append(this.input, this.sendButton);

    root.append(bar, controlsRow, this.errorBanner, this.notice, this.tools, this.log, timeline, this.form, activityRow);
    if (this.captions) {
      root.classList.add("rtw-captions");
      root.prepend(rtwElement("div", "rtw-heading", "Captions"));
      this.form.hidden = true;
      this.stopButton.hidden = true;
      this.empty.textContent = "No captions yet. Connect, then speak.";
    }
    this.el.append(root);
    this.controls = new RtwControls(this, controlsRow);
    this.activity = new RtwActivity(this, timeline, activityRow);
    this.listen(this.log, "click", (event) => this.onItemAction(event));

    this.listen(this.connectButton, "click", () => this.onConnectClick());
    this.listen(this.micButton, "click", () => this.onMicClick());
    this.listen(this.stopButton, "click", () => this.session.stop());
    this.listen(this.turnSelect, "change", () => {
      this.model.set("turn_detection", this.turnSelect.value);
      this.model.save_changes();
    });
    this.listen(this.errorClose, "click", () => {
      this.model.set("error", "");
      this.model.save_changes();
    });
    this.listen(this.form, "submit", (event) => {
      event.preventDefault();
      this.submitText();
    });
    // Keys typed here are the user's, not notebook shortcuts (JupyterLab takes Enter).
    this.listen(this.input, "keydown", (event) => {
      const key = /** @type {KeyboardEvent} */ (event);
      event.stopPropagation();
      if (key.key === "Enter" && !key.shiftKey && !key.isComposing) {
        event.preventDefault();
        this.submitText();
      }
    });
    this.listen(this.pttButton, "pointerdown", (event) => {
      event.preventDefault();
      this.pttButton.setPointerCapture?.(/** @type {PointerEvent} */ (event).pointerId);
      this.session.mic.pttPress();
    });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      this.listen(this.pttButton, type, () => this.session.mic.pttRelease());
    }
    this.listen(this.pttButton, "keydown", (event) => {
      const key = /** @type {KeyboardEvent} */ (event);
      if ((key.key === " " || key.key === "Enter") && !key.repeat) {
        event.preventDefault();
        this.session.mic.pttPress();
      }
    });
    this.listen(this.pttButton, "keyup", (event) => {
      const key = /** @type {KeyboardEvent} */ (event).key;
      if (key === " " || key === "Enter") this.session.mic.pttRelease();
    });
    this.listen(this.log, "scroll", () => {
      if (this.following && this.log.scrollTop >= this.endTop - 1) return; // ours, or further
      this.following = this.nearBottom();
    });
    // Any click may unlock a suspended AudioContext (browsers need a gesture).
    this.listen(root, "pointerdown", () => {
      const ctx = this.session.ctx;
      if (ctx !== null && ctx.state === "suspended") ctx.resume().catch(() => {});
    });

    const traits = ["connection", "error", "status", "turn_detection", "mic", "tools", "audio_in_use", "transport_in_use"];
    const render = () => this.renderState();
    for (const name of traits) {
      this.model.on(`change:${name}`, render);
      this.cleanups.push(() => this.model.off(`change:${name}`, render));
    }
    const timings = () => this.renderTimings();
    this.model.on("change:turn_timings", timings);
    this.cleanups.push(() => this.model.off("change:turn_timings", timings));
    this.renderTimings();
    this.cleanups.push(this.session.subscribe((event) => this.onSession(event)));
    if (this.model.get("audio") === "auto") {
      // the kernel chooses the kernel's devices when the page cannot have its microphone
      this.model.set("page_audio", this.page.ok ? "ok" : this.page.why);
      this.model.save_changes();
    }
    this.renderState();
    this.renderAll();
  }

  /**
   * @param {EventTarget} target
   * @param {string} type
   * @param {(event: Event) => void} handler
   */
  listen(target, type, handler) {
    target.addEventListener(type, handler);
    this.cleanups.push(() => target.removeEventListener(type, handler));
  }

  submitText() {
    const text = this.input.value;
    if (!text.trim() || this.model.get("connection") !== "connected") return;
    this.session.ensureAudio().catch(() => {}); // a key press also unlocks playback
    this.session.wire.send({ type: "text", text });
    this.input.value = "";
  }

  onConnectClick() {
    const state = this.model.get("connection");
    if (state === "connected" || state === "connecting" || state === "reconnecting") {
      this.session.mic.stop();
      this.session.wire.send({ type: "disconnect" });
    } else {
      this.session.ensureAudio().catch(() => {}); // the click unlocks playback
      this.session.wire.send({ type: "connect" });
    }
  }

  onMicClick() {
    const mic = this.model.get("mic");
    if (mic === "on") this.session.mic.stop();
    else if (mic !== "starting") {
      this.session.mic
        .start()
        .catch((err) => console.error("[realtime_widget] the microphone failed to start", err))
        .finally(() => this.renderState());
    }
  }

  /**
   * Shows `text` among the notices for a few seconds.
   * @param {string} text
   */
  flash(text) {
    this.flashText = text;
    if (this.flashTimer !== null) clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => {
      this.flashTimer = null;
      this.flashText = "";
      this.renderState();
    }, 4000);
    this.renderState();
  }

  /** A click in the log: an item's replay or download button. @param {Event} event */
  onItemAction(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const button = target.closest ? target.closest("[data-action]") : null;
    const root = button !== null ? button.closest(".rtw-item") : null;
    const id = root instanceof HTMLElement ? root.dataset.itemId : undefined;
    if (button === null || id === undefined) return;
    const session = this.session;
    const failed = (/** @type {any} */ err) => this.flash(`The audio could not be had: ${err && err.message ? err.message : err}`);
    if (/** @type {HTMLElement} */ (button).dataset.action === "replay") {
      if (session.replayId === id) session.stopReplay();
      else session.replay(id).catch(failed);
    } else {
      session
        .itemAudio(id, "download")
        .then((pcm) => rtwDownload(`${id}.wav`, wavBytes(pcm), "audio/wav"))
        .catch(failed);
    }
  }

  /** The turn timings changed: the timeline, and the notes of the answers they name. */
  renderTimings() {
    const raw = this.model.get("turn_timings");
    const timings = /** @type {TurnTiming[]} */ (Array.isArray(raw) ? raw : []);
    const before = [...this.timings.keys()];
    this.timings = new Map(timings.filter((t) => t && t.item_id).map((t) => [t.item_id, t]));
    for (const id of new Set([...before, ...this.timings.keys()])) {
      if (this.nodes.has(id)) this.renderItem(id, false);
    }
    this.activity.renderTimeline();
  }

  /** @param {SessionEvent} event */
  onSession(event) {
    if (event.kind === "log") this.activity.renderEntries(event.entries, event.reset);
    else if (event.kind === "images") this.renderItem(event.id, false);
    else if (event.kind === "items") this.renderChanges(event);
    else if (event.kind === "item") this.renderItem(event.id);
    else if (event.kind === "removed") this.removeNodes(event.id);
    else if (event.kind === "delta") this.appendDelta(event.id, event.field, event.delta);
    else if (event.kind === "levels") this.renderLevels();
    else this.renderState();
  }

  renderState() {
    const m = this.model;
    const connection = String(m.get("connection"));
    const mic = String(m.get("mic"));
    const turn = String(m.get("turn_detection"));
    const root = /** @type {HTMLElement} */ (this.root);
    root.dataset.connection = connection;
    root.dataset.mic = mic;
    root.dataset.turn = turn;
    root.dataset.playing = this.session.playing ?? "";
    const call = this.session.call;
    root.dataset.transport = String(m.get("transport_in_use") || "websocket");
    root.dataset.call = call === null ? "" : call.id === "" ? "starting" : call.id;
    const busy = connection === "connecting" || connection === "reconnecting";
    const live = connection === "connected" || busy;
    this.connectButton.textContent = live ? "Disconnect" : "Connect";
    this.connectButton.classList.toggle("rtw-primary", !live);
    const over = connection === "connected" && m.get("transport_in_use") === "webrtc" ? " (WebRTC)" : "";
    this.stateText.textContent = (RTW_CONNECTION_LABELS[connection] ?? connection) + over;
    this.statePill.dataset.state = connection;
    if (this.turnSelect.value !== turn) this.turnSelect.value = turn;
    const micOn = mic === "on";
    this.micButton.textContent = micOn ? "Turn mic off" : mic === "starting" ? "Starting mic…" : "Turn mic on";
    this.micButton.classList.toggle("rtw-active", micOn);
    this.micButton.setAttribute("aria-pressed", String(micOn));
    this.micButton.disabled = connection !== "connected" || mic === "starting";
    this.micButton.title = micOn ? "Turn the microphone off" : "Turn the microphone on";
    const audioInUse = String(m.get("audio_in_use") ?? "");
    root.dataset.audio = audioInUse;
    if (audioInUse === "kernel") {
      this.micButton.textContent = "Kernel mic";
      this.micButton.disabled = true;
      this.micButton.title = "The kernel's microphone is in use: speak to it";
    }
    const manual = turn === "manual";
    this.pttButton.hidden = !manual;
    this.pttButton.disabled = !(micOn && connection === "connected");
    this.pttButton.classList.toggle("rtw-active", this.session.mic.pttHeld);
    this.stopButton.disabled = this.session.playing === null;
    this.sendButton.disabled = connection !== "connected";

    const error = String(m.get("error") || "");
    this.errorText.textContent = error;
    this.errorBanner.hidden = error === "";

    /** @type {string[]} */
    const notices = [];
    if (mic === "denied" || mic === "unsupported") {
      notices.push(this.session.mic.message || (mic === "denied" ? "Microphone access was denied." : "The microphone cannot be used here."));
    }
    if (connection === "reconnecting" && mic === "on") {
      notices.push("Not listening while the connection is down: what you say now is not sent.");
    }
    if (micOn && this.session.mic.muted) notices.push("Muted: the microphone stays open and nothing is sent.");
    if (this.session.audioMessage) notices.push(this.session.audioMessage);
    if (this.flashText) notices.push(this.flashText);
    const audioLine = rtwAudioLine(this.page, audioInUse);
    if (audioLine) notices.push(audioLine);
    const wire = this.session.wire;
    if (audioInUse !== "kernel" && wire.notice()) notices.push(wire.notice());
    Object.assign(root.dataset, { wireOut: wire.toKernel, wireIn: wire.fromKernel });
    const ctx = this.session.ctx;
    if (ctx !== null && ctx.state === "suspended") notices.push("Sound is paused by the browser: click anywhere in the widget to turn it on.");
    const status = String(m.get("status") || "");
    if (status) notices.push(status);
    this.notice.textContent = notices.join(" ");
    this.notice.hidden = notices.length === 0;

    const tools = Array.isArray(m.get("tools")) ? m.get("tools") : [];
    this.tools.replaceChildren();
    this.tools.hidden = tools.length === 0;
    if (tools.length > 0) {
      this.tools.append(rtwElement("span", "rtw-tools-label", "Tools"));
      for (const tool of tools) {
        const chip = rtwElement("code", "rtw-chip", String(tool && tool.name ? tool.name : "?"));
        chip.title = String(tool && tool.description ? tool.description : "");
        this.tools.append(chip);
      }
    }
    if (this.captions) rtwSetText(this.empty, connection === "connected" ? "Connected. Speak." : "No captions yet. Connect, then speak.");
    else rtwSetText(this.empty, connection === "connected" ? "Connected. Speak or type." : "No messages yet. Connect, then speak or type.");
    if (this.replayShown !== this.session.replayId) {
      const shown = [this.replayShown, this.session.replayId];
      this.replayShown = this.session.replayId;
      for (const id of shown) if (id !== null && this.nodes.has(id)) this.renderItem(id, false);
    }
    this.controls.render();
    this.renderLevels();
  }

  renderLevels() {
    this.inMeter.style.transform = `scaleX(${meterPercent(this.session.mic.level) / 100})`;
    this.outMeter.style.transform = `scaleX(${meterPercent(this.session.outLevel) / 100})`;
  }

  /** Rebuilds the list from the store, reusing each item's nodes (a view's first render). */
  renderAll() {
    const store = this.session.store;
    for (const id of [...this.nodes.keys()]) {
      if (!store.items.has(id)) this.removeNodes(id, false);
    }
    for (const id of store.order) this.renderItem(id, false);
    this.log.replaceChildren(
      ...store.order.map((id) => /** @type {ItemNodes} */ (this.nodes.get(id)).root),
    );
    this.showEmpty();
    this.followEnd();
  }

  /**
   * Renders what an `items` state or a snapshot changed, and only that.
   * @param {StoreChanges} changes
   */
  renderChanges({ changed, removed, reordered }) {
    if (reordered) {
      this.renderAll();
      return;
    }
    for (const id of removed) this.removeNodes(id);
    for (const id of changed) this.renderItem(id);
  }

  /** Shows the "no messages" line when no item is shown, and only then. */
  showEmpty() {
    if (this.visible > 0) this.empty.remove();
    else if (this.empty.parentNode !== this.log) this.log.prepend(this.empty);
    this.controls.render();
  }

  /**
   * Removes one item's nodes.
   * @param {string} id
   * @param {boolean} [update] show the "no messages" line and a call's output again
   */
  removeNodes(id, update = true) {
    const nodes = this.nodes.get(id);
    if (nodes === undefined) return;
    nodes.root.remove();
    this.nodes.delete(id);
    if (nodes.shown) this.visible -= 1;
    if (this.outputs.get(nodes.callId) === id) this.outputs.delete(nodes.callId);
    if (!update) return;
    const output = nodes.kind === "tool" ? this.outputs.get(nodes.callId) : undefined;
    if (output !== undefined) this.renderItem(output); // shown again without its call
    this.showEmpty();
  }

  /**
   * Creates or updates one item's nodes.
   * @param {string} id
   * @param {boolean} [place] put a new item's nodes in the list, keep the scroll at the end
   */
  renderItem(id, place = true) {
    const store = this.session.store;
    const item = store.items.get(id);
    if (item === undefined) return;
    const view = this.captions ? describeCaption(item, store) : describeItem(item, store);
    let nodes = this.nodes.get(id);
    const wasShown = nodes !== undefined && nodes.shown;
    if (nodes !== undefined && nodes.kind !== view.kind) {
      nodes.root.remove();
      nodes = undefined;
    }
    if (nodes === undefined) {
      nodes = this.createNodes(view.kind);
      this.nodes.set(id, nodes);
      if (place) this.log.insertBefore(nodes.root, this.nextRoot(id));
    }
    nodes.shown = view.kind !== "hidden";
    this.visible += Number(nodes.shown) - Number(wasShown);
    nodes.callId = item.call_id;
    nodes.root.dataset.itemId = id;
    nodes.root.dataset.role = item.role;
    nodes.root.dataset.status = item.status;
    nodes.root.hidden = !nodes.shown;
    nodes.label.textContent = view.label;
    const timing = item.role === "assistant" ? this.timings.get(id) : undefined;
    const said = timing !== undefined ? describeTiming(timing) : "";
    nodes.notes.textContent = (said ? [...view.notes, said] : view.notes).join(" · ");
    nodes.actions.hidden = !(view.kind === "message" && item.audio_ms > 0);
    if (!nodes.actions.hidden) {
      const replay = /** @type {HTMLElement} */ (nodes.actions.firstChild);
      rtwSetText(replay, this.session.replayId === id ? "Stop replay" : "Replay");
    }
    if (view.kind === "message" && item.images > 0) this.renderThumbs(id, nodes);
    if (view.kind === "tool") {
      nodes.root.dataset.toolState = item.tool_state ?? "pending";
      if (nodes.args !== undefined) nodes.args.data = item.arguments;
      if (nodes.output !== undefined) {
        nodes.output.textContent = item.output;
        nodes.output.hidden = item.output === "";
      }
      if (nodes.approval !== undefined) nodes.approval.hidden = item.approval !== "pending";
    } else {
      nodes.text.data = item.type === "function_call_output" ? item.output : item.text;
      nodes.transcript.data = (item.text && item.transcript ? "\n" : "") + item.transcript;
      nodes.placeholder.textContent = view.placeholder;
      nodes.placeholder.hidden = view.placeholder === "";
    }
    if (item.type === "function_call_output" && item.call_id) this.outputs.set(item.call_id, id);
    if (!place) return;
    const output = item.type === "function_call" ? this.outputs.get(item.call_id) : undefined;
    if (output !== undefined && output !== id) this.renderItem(output); // hidden behind its card
    this.showEmpty();
    this.followEnd();
  }

  /**
   * The item's images as thumbnails (asked of the kernel once; drawn when they come).
   * @param {string} id
   * @param {ItemNodes} nodes
   */
  renderThumbs(id, nodes) {
    this.session.wantImages(id);
    const urls = this.session.images.get(id) ?? [];
    if (nodes.thumbs === undefined) {
      nodes.thumbs = rtwElement("div", "rtw-thumbs");
      nodes.root.append(nodes.thumbs);
    }
    if (nodes.thumbs.childElementCount === urls.length) return;
    nodes.thumbs.replaceChildren(
      ...urls.filter(isImageDataUrl).map((url) => {
        const img = /** @type {HTMLImageElement} */ (rtwElement("img", "rtw-thumb"));
        img.alt = "image sent";
        img.src = url;
        return img;
      }),
    );
  }

  /**
   * The root of the first item after `id` that has nodes, or null: where `id`'s go.
   * @param {string} id
   * @returns {HTMLElement | null}
   */
  nextRoot(id) {
    const order = this.session.store.order;
    if (order[order.length - 1] === id) return null; // a new item is usually the last
    for (let i = order.lastIndexOf(id) + 1; i > 0 && i < order.length; i++) {
      const nodes = this.nodes.get(order[i]);
      if (nodes !== undefined) return nodes.root;
    }
    return null;
  }

  /**
   * @param {string} kind
   * @returns {ItemNodes}
   */
  createNodes(kind) {
    const root = rtwElement("div", kind === "tool" || kind === "output" ? "rtw-item rtw-tool" : "rtw-item rtw-msg");
    const head = rtwElement("div", "rtw-item-head");
    const label = rtwElement(kind === "tool" ? "code" : "span", "rtw-who");
    const notes = rtwElement("span", "rtw-notes");
    const actions = rtwElement("span", "rtw-item-actions");
    const replay = rtwElement("button", "rtw-link rtw-replay", "Replay");
    replay.dataset.action = "replay";
    replay.title = "Play this audio again";
    const wav = rtwElement("button", "rtw-link rtw-wav", "Download WAV");
    wav.dataset.action = "wav";
    actions.append(replay, wav);
    actions.hidden = true;
    head.append(label, notes, actions);
    const body = rtwElement("div", "rtw-body");
    const text = document.createTextNode("");
    const transcript = document.createTextNode("");
    const placeholder = rtwElement("span", "rtw-placeholder");
    /** @type {ItemNodes} */
    const nodes = { root, label, notes, text, transcript, placeholder, actions, kind, shown: false, callId: "" };
    if (kind === "tool") {
      head.prepend(rtwElement("span", "rtw-tool-icon", "ƒ"));
      const args = document.createTextNode("");
      const argsBox = rtwElement("pre", "rtw-args");
      argsBox.append(args);
      const output = rtwElement("pre", "rtw-output");
      body.append(argsBox, output);
      nodes.args = args;
      nodes.output = output;
      nodes.approval = this.approvalButtons(root);
      body.append(nodes.approval);
    } else {
      const content = rtwElement("div", "rtw-content");
      content.append(text, transcript);
      body.append(content, placeholder);
    }
    root.append(head, body);
    return nodes;
  }

  /**
   * The approve and deny buttons of an MCP approval request's card (hidden unless pending):
   * each sends the answer for the item its card shows.
   * @param {HTMLElement} root the card
   * @returns {HTMLElement}
   */
  approvalButtons(root) {
    const box = rtwElement("div", "rtw-approval");
    for (const [text, approve] of /** @type {[string, boolean][]} */ ([["Approve", true], ["Deny", false]])) {
      const button = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn", text));
      button.type = "button";
      button.dataset.approve = String(approve);
      button.addEventListener("click", () => {
        box.hidden = true;
        this.session.wire.send({ type: "mcp_approval", request_id: root.dataset.itemId, approve });
      });
      box.append(button);
    }
    box.hidden = true;
    return box;
  }

  /**
   * Appends a streamed piece to the item's text node: O(piece), whatever the text's length.
   * @param {string} id
   * @param {"text" | "transcript" | "arguments"} field
   * @param {string} delta
   */
  appendDelta(id, field, delta) {
    const nodes = this.nodes.get(id);
    if (nodes === undefined) {
      this.renderItem(id);
      return;
    }
    if (field === "arguments" && nodes.args !== undefined) nodes.args.appendData(delta);
    else if (field === "text" && nodes.kind === "message") nodes.text.appendData(delta);
    else if (field === "transcript" && nodes.kind === "message") {
      const item = this.session.store.items.get(id);
      if (item !== undefined && item.text && nodes.transcript.data === "") nodes.transcript.appendData("\n");
      nodes.transcript.appendData(delta);
    }
    if (!nodes.placeholder.hidden && field !== "arguments") nodes.placeholder.hidden = true;
    this.followEnd();
  }

  /** Whether the log shows its end, or nearly (reads layout: not for the hot path). */
  nearBottom() {
    const log = this.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  /** The log grew: if it follows its end, scroll there at the next frame (once per frame). */
  followEnd() {
    if (!this.following || this.scrollDue !== null) return;
    const run = () => {
      this.scrollDue = null;
      if (this.following) this.scrollToEnd();
    };
    if (typeof globalThis.requestAnimationFrame === "function") {
      const frame = requestAnimationFrame(run);
      this.scrollDue = () => cancelAnimationFrame(frame);
    } else {
      const timer = setTimeout(run, 16);
      this.scrollDue = () => clearTimeout(timer);
    }
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
    this.endTop = this.log.scrollTop;
  }

  dispose() {
    if (this.flashTimer !== null) clearTimeout(this.flashTimer);
    if (this.scrollDue !== null) this.scrollDue();
    this.scrollDue = null;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    /** @type {HTMLElement} */ (this.root).remove();
    this.nodes.clear();
    this.outputs.clear();
  }
}
