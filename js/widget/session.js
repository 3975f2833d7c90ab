// RtwSession, one per widget model on a page: the kernel's messages, the AudioContext, the
// capture and playback worklets, the microphone and push-to-talk. Nothing audio starts before
// a click: start() only subscribes and says hello.
//
// Views: each rendered view attaches to the session and detaches when it is disposed. When
// the last one has been gone for RTW_ORPHAN_MS (a re-run cell replaced the output, the
// output was cleared), the session goes quiet: it stops its microphone (the `mic` trait
// goes "off"), cuts playback as a barge-in would (the kernel truncates the answer where it
// stopped) and, until a view attaches again, plays no audio: an answer that arrives is
// reported as interrupted with nothing played. Its item store keeps following the kernel,
// so a view rendered later shows the whole conversation.
//
// The `mic` trait is shared by every page showing the widget; each session knows only
// whether it captures itself. A session that captures stops when the trait leaves
// "on"/"starting" (another page turned the mic off). A session starting on a page while the
// trait reads "on" does not reset it (another page may be capturing): it sends `mic_check`;
// the kernel asks every page, a capturing one answers `mic_held`, and the kernel turns a mic
// nobody holds "off" (a reloaded page's).
//
// Assembly (see realtime_widget/_frontend.py): the widget's one ES module is js/lib/*.js with
// `export ` stripped, then js/widget/*.js as they are, then js/widget.js. So this file has no
// imports, declares top-level names unique across js/lib and js/widget, and has no side
// effects at import; the lib declarations are in scope.
//
// Tracing (a measuring aid, off unless the page sets `window.__rtwTrace = []` before the
// widget starts): the session then pushes `{event, t, ...}` records to that array, `t` in
// wall-clock epoch ms (`performance.timeOrigin + performance.now()` here, `Date.now()` in
// the worklets): "mic" (a captured chunk sent to the kernel; `tw`: when the capture worklet
// posted it), "audio" and "interrupt" (kernel messages received), and the playback
// worklet's "queued" (a push received) and "silent" (the first silent block after an
// interrupt). With tracing off, each hot path pays one null check.

/**
 * What changed, for the views: "items" several items at once (an `items` state or a
 * snapshot), "item" one summary, "removed" one item gone, "delta" a streamed piece.
 * @typedef {({kind: "items"} & StoreChanges) | {kind: "item", id: string}
 *   | {kind: "removed", id: string}
 *   | {kind: "delta", id: string, field: "text" | "transcript" | "arguments", delta: string}
 *   | {kind: "audio"} | {kind: "levels"}} SessionEvent
 */

/** Wall-clock epoch milliseconds, sub-millisecond (trace records). */
function rtwEpochMs() {
  return performance.timeOrigin + performance.now();
}

/** The model-level state: one per widget model on the page, shared by its views. */
export class RtwSession {
  /** @param {AnyModel} model */
  constructor(model) {
    this.model = model;
    this.store = createItemStore();
    /** @type {Set<(event: SessionEvent) => void>} */
    this.listeners = new Set();
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {Promise<void> | null} */
    this.audioReady = null;
    /** @type {string | null} */
    this.workletUrl = null;
    /** @type {AudioWorkletNode | null} */
    this.playNode = null;
    /** @type {AudioWorkletNode | null} */
    this.capNode = null;
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this.source = null;
    /** @type {GainNode | null} */
    this.sink = null;
    /** @type {any[]} messages for the playback worklet until it exists */
    this.pending = [];
    /** @type {Map<string, number>} */
    this.playedSentAt = new Map();
    /** @type {string | null} */
    this.playing = null;
    this.inLevel = 0;
    this.outLevel = 0;
    this.pttHeld = false;
    this.pttFlushing = false;
    /** startMic() is under way (awaiting the permission prompt or the audio engine) */
    this.micStarting = false;
    this.micMessage = "";
    this.audioMessage = "";
    this.disposed = false;
    /** views attached now */
    this.views = 0;
    /** no view for RTW_ORPHAN_MS: no capture, no playback (see the top) */
    this.orphaned = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.orphanTimer = null;
    /** @type {Set<string>} items reported as unplayed while orphaned */
    this.unplayed = new Set();
    /** @type {Map<string, number>} samples received per item, recent items only */
    this.received = new Map();
    /**
     * @type {Map<string, number>} samples of an item sent before this page listened (a page
     * opened mid-answer): added to what the player counts, so the kernel gets positions
     */
    this.audioBase = new Map();
    const trace = /** @type {any} */ (globalThis).__rtwTrace;
    /** @type {any[] | null} trace records, when the page asked for them (see the top) */
    this.trace = Array.isArray(trace) ? trace : null;
    this._onCustom = this._onCustom.bind(this);
    this._onItems = this._onItems.bind(this);
    this._onConnection = this._onConnection.bind(this);
    this._onMic = this._onMic.bind(this);
  }

  start() {
    this.model.on("msg:custom", this._onCustom);
    this.model.on("change:items", this._onItems);
    this.model.on("change:connection", this._onConnection);
    this.model.on("change:mic", this._onMic);
    applySummaries(this.store, this.model.get("items"));
    this.model.send({ type: "hello" });
    // Another page may capture, or a reloaded page left the trait on: the kernel finds out.
    if (this.micClaimed()) this.model.send({ type: "mic_check" });
  }

  /** Whether the shared `mic` trait says some page captures (or is starting to). */
  micClaimed() {
    const mic = this.model.get("mic");
    return mic === "on" || mic === "starting";
  }

  /** Whether this session captures, or is starting to. */
  get capturing() {
    return this.capNode !== null || this.micStarting;
  }

  /** A view was rendered. */
  attachView() {
    this.views += 1;
    if (this.orphanTimer !== null) clearTimeout(this.orphanTimer);
    this.orphanTimer = null;
    this.orphaned = false;
    this.unplayed.clear();
  }

  /** A view was disposed; the last one going starts the orphan timer (see the top). */
  detachView() {
    this.views = Math.max(0, this.views - 1);
    if (this.views > 0 || this.disposed || this.orphanTimer !== null) return;
    this.orphanTimer = setTimeout(() => this._orphan(), RTW_ORPHAN_MS);
  }

  _orphan() {
    this.orphanTimer = null;
    if (this.views > 0 || this.disposed) return;
    this.orphaned = true;
    if (this.capturing) this.stopMic();
    this.interruptPlayback();
  }

  /** @param {(event: SessionEvent) => void} listener @returns {() => void} unsubscribe */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @param {SessionEvent} event */
  emit(event) {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        console.error("[realtime_widget] view update failed", err);
      }
    }
  }

  /** @param {string} state */
  setMic(state) {
    this.model.set("mic", state);
    this.model.save_changes();
  }

  _onItems() {
    const changes = applySummaries(this.store, this.model.get("items"));
    if (changes.changed.length || changes.removed.length || changes.reordered) {
      this.emit({ kind: "items", ...changes });
    }
  }

  _onConnection() {
    const state = this.model.get("connection");
    // The kernel says "error" only when no reconnect follows. While reconnecting the mic
    // stays open but nothing is sent (`sending`); audio resumes with the new session.
    if ((state === "disconnected" || state === "error") && this.capturing) this.stopMic();
  }

  _onMic() {
    // Another page (or the kernel) turned the shared mic off: release this page's device.
    if (!this.micClaimed() && this.capNode !== null) this._releaseMic();
  }

  /**
   * @param {any} content
   * @param {DataView[]} [buffers]
   */
  _onCustom(content, buffers) {
    const msg = parseKernelMessage(content, buffers ?? []);
    if (msg === null) {
      console.warn("[realtime_widget] ignored a kernel message", content);
      return;
    }
    switch (msg.type) {
      case "delta": {
        if (applyDelta(this.store, msg) === null) break;
        this.emit({ kind: "delta", id: msg.item_id, field: msg.field, delta: msg.delta });
        break;
      }
      case "item": {
        const summary = applyItemSummary(this.store, msg.item);
        if (summary !== null) this.emit({ kind: "item", id: summary.id });
        break;
      }
      case "item_removed":
        if (removeItem(this.store, msg.item_id, msg.rev)) this.emit({ kind: "removed", id: msg.item_id });
        break;
      case "snapshot": {
        /** @type {string[]} */
        const changed = [];
        for (const raw of msg.items) {
          const summary = applyItemSummary(this.store, raw);
          if (summary !== null) changed.push(summary.id);
        }
        for (const [id, sent] of msg.audio_sent) {
          const missed = sent - (this.received.get(id) ?? 0);
          if (missed > 0) this.audioBase.set(id, missed);
        }
        if (changed.length) this.emit({ kind: "items", changed, removed: [], reordered: false });
        break;
      }
      case "audio": {
        const data = /** @type {DataView} */ ((buffers ?? [])[0]);
        const buffer = ArrayBuffer.isView(data) ? toArrayBuffer(data) : data;
        if (this.trace !== null) {
          const samples = buffer.byteLength >> 1;
          this.trace.push({ event: "audio", t: rtwEpochMs(), itemId: msg.item_id, samples });
        }
        this._countReceived(msg.item_id, buffer.byteLength >> 1);
        if (this.orphaned) {
          // Nobody sees this widget: its answer is not played, and the kernel is told so.
          if (!this.unplayed.has(msg.item_id)) {
            this.unplayed.add(msg.item_id);
            const played = this._position(msg.item_id, 0);
            this.model.send({ type: "interrupted", item_id: msg.item_id, played_samples: played });
          }
          break;
        }
        this._toPlayer({ type: "push", itemId: msg.item_id, buffer }, [buffer]);
        if (this.audioReady === null) this.ensureAudio().catch(() => {});
        break;
      }
      case "audio_done":
        this._toPlayer({ type: "done", itemId: msg.item_id }, []);
        break;
      case "interrupt":
        if (this.trace !== null) this.trace.push({ event: "interrupt", t: rtwEpochMs() });
        this.interruptPlayback();
        break;
      case "mic_check":
        if (this.capturing) this.model.send({ type: "mic_held" });
        break;
    }
  }

  /**
   * @param {string} itemId
   * @param {number} samples
   */
  _countReceived(itemId, samples) {
    const count = this.received.get(itemId);
    if (count === undefined && this.received.size >= 64) {
      const oldest = /** @type {string} */ (this.received.keys().next().value);
      this.received.delete(oldest);
      this.audioBase.delete(oldest);
    }
    this.received.set(itemId, (count ?? 0) + samples);
  }

  /**
   * The item's position in samples for what the player counted (see `audioBase`).
   * @param {string | null} itemId
   * @param {number} played
   * @returns {number}
   */
  _position(itemId, played) {
    return (played | 0) + (itemId === null ? 0 : this.audioBase.get(itemId) ?? 0);
  }

  /**
   * @param {any} message
   * @param {ArrayBuffer[]} transfer
   */
  _toPlayer(message, transfer) {
    if (this.playNode !== null) {
      this.playNode.port.postMessage(message, transfer);
    } else if (this.pending.length < RTW_MAX_PENDING_AUDIO) {
      this.pending.push(message);
    }
  }

  /**
   * Creates the AudioContext (synchronously, so a click's gesture unlocks it) and loads the
   * worklets; resolves once the playback node runs. Idempotent; a failure can be retried.
   * @returns {Promise<void>}
   */
  ensureAudio() {
    if (this.ctx !== null && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    if (this.audioReady !== null) return this.audioReady;
    const Ctx = /** @type {any} */ (globalThis).AudioContext;
    if (typeof Ctx !== "function" || typeof globalThis.AudioWorkletNode !== "function") {
      this.audioMessage = "This browser cannot play the model's voice (no AudioWorklet).";
      this.emit({ kind: "audio" });
      return Promise.reject(new Error(this.audioMessage));
    }
    /** @type {AudioContext} */
    const ctx = new Ctx(); // the device's own rate: the worklets resample
    this.ctx = ctx;
    ctx.onstatechange = () => this.emit({ kind: "audio" });
    this.audioReady = (async () => {
      const source = audioWorkletSource({
        StreamResampler,
        Chunker,
        JitterPlayer,
        floatToPcm16,
        fromBuffer,
        rmsLevel,
      });
      this.workletUrl = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      await ctx.audioWorklet.addModule(this.workletUrl);
      if (this.disposed) return;
      const node = new AudioWorkletNode(ctx, "rtw-playback", {
        numberOfInputs: 0,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        processorOptions: {
          prebufferMs: 80,
          progressMs: 50,
          levelMs: 50,
          trace: this.trace !== null,
        },
      });
      node.port.onmessage = (event) => this._onPlayerMessage(event.data);
      node.connect(ctx.destination);
      this.playNode = node;
      for (const message of this.pending.splice(0)) {
        const transfer = message.buffer instanceof ArrayBuffer ? [message.buffer] : [];
        node.port.postMessage(message, transfer);
      }
      this.emit({ kind: "audio" });
    })();
    this.audioReady.catch((err) => {
      console.error("[realtime_widget] audio failed to start", err);
      this.audioMessage = `Audio could not start: ${err && err.message ? err.message : err}`;
      this.audioReady = null;
      this.emit({ kind: "audio" });
    });
    return this.audioReady;
  }

  /** @param {any} msg */
  _onPlayerMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    switch (msg.type) {
      case "started":
        this.playing = msg.itemId;
        this.emit({ kind: "audio" });
        break;
      case "played": {
        const now = performance.now();
        if (playedReportDue(this.playedSentAt.get(msg.itemId), now)) {
          this.playedSentAt.set(msg.itemId, now);
          this._sendPlayed(msg.itemId, msg.playedSamples);
        }
        break;
      }
      case "finished":
        this._sendPlayed(msg.itemId, msg.playedSamples);
        this.playedSentAt.delete(msg.itemId);
        if (this.playing === msg.itemId) this.playing = null;
        this.emit({ kind: "audio" });
        break;
      case "interrupted": {
        const itemId = typeof msg.itemId === "string" ? msg.itemId : null;
        this.model.send({
          type: "interrupted",
          item_id: itemId,
          played_samples: this._position(itemId, msg.playedSamples),
        });
        if (typeof msg.itemId === "string") this.playedSentAt.delete(msg.itemId);
        this.playing = null;
        this.emit({ kind: "audio" });
        break;
      }
      case "level":
        this.outLevel = msg.rms;
        this.emit({ kind: "levels" });
        break;
      case "error":
        console.warn("[realtime_widget] playback:", msg.message);
        break;
      case "trace":
        if (this.trace !== null) this.trace.push(msg);
        break;
    }
  }

  /**
   * @param {string} itemId
   * @param {number} playedSamples
   */
  _sendPlayed(itemId, playedSamples) {
    const position = this._position(itemId, playedSamples);
    this.model.send({ type: "played", item_id: itemId, played_samples: position });
  }

  /** Stops playback at once; the worklet's answer goes to the kernel as `interrupted`. */
  interruptPlayback() {
    if (this.playNode !== null) {
      this.playNode.port.postMessage({ type: "interrupt" });
      return;
    }
    this.pending = [];
    this.model.send({ type: "interrupted", item_id: null, played_samples: 0 });
  }

  /** The user's Stop: cut playback (which cancels the response) or cancel the response. */
  stop() {
    if (this.playNode !== null) this.interruptPlayback();
    else this.model.send({ type: "stop" });
  }

  /** Whether captured audio goes to the kernel now. */
  get sending() {
    if (this.model.get("connection") !== "connected" || this.model.get("mic") !== "on") return false;
    return this.model.get("turn_detection") !== "manual" || this.pttHeld || this.pttFlushing;
  }

  /**
   * Starts the microphone (call from a click). Sets `mic` and, on failure, `micMessage`;
   * never rejects: every failure ends in "denied" or "unsupported" with the device released.
   * @returns {Promise<void>}
   */
  async startMic() {
    if (this.capturing) return;
    const env = {
      isSecureContext: globalThis.isSecureContext,
      mediaDevices: globalThis.navigator ? navigator.mediaDevices : undefined,
      AudioContext: /** @type {any} */ (globalThis).AudioContext,
      AudioWorkletNode: globalThis.AudioWorkletNode,
    };
    const reason = micUnsupportedReason(env);
    if (reason !== null) {
      this.micMessage = reason;
      this.setMic("unsupported");
      return;
    }
    this.micMessage = "";
    this.micStarting = true;
    this.setMic("starting");
    try {
      await this._openMic();
    } finally {
      this.micStarting = false;
    }
  }

  async _openMic() {
    const audio = this.ensureAudio();
    /** @type {MediaStream} */
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (err) {
      const state = micErrorState(err);
      this.micMessage = state.message;
      this.setMic(state.mic);
      return;
    }
    const stopTracks = () => {
      for (const track of stream.getTracks()) track.stop();
    };
    try {
      await audio;
    } catch (err) {
      stopTracks();
      this.micMessage = this.audioMessage || "Audio could not start.";
      this.setMic("unsupported");
      return;
    }
    if (this.disposed || this.orphaned || this.model.get("mic") !== "starting") {
      // disposed, no view left, or turned off (here or on another page) while starting
      stopTracks();
      if (!this.disposed && this.model.get("mic") === "starting") this.setMic("off");
      return;
    }
    const ctx = /** @type {AudioContext} */ (this.ctx);
    /** @type {MediaStreamAudioSourceNode | null} */
    let source = null;
    /** @type {AudioWorkletNode | null} */
    let node = null;
    /** @type {GainNode | null} */
    let sink = null;
    try {
      // Firefox refuses a microphone whose rate differs from the context's (NotSupportedError).
      source = ctx.createMediaStreamSource(stream);
      node = new AudioWorkletNode(ctx, "rtw-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        processorOptions: { chunkMs: 80, levelMs: 50, trace: this.trace !== null },
      });
      // The capture node outputs silence; a muted path to the destination keeps it pulled.
      sink = ctx.createGain();
      sink.gain.value = 0;
      source.connect(node);
      node.connect(sink);
      sink.connect(ctx.destination);
    } catch (err) {
      console.warn("[realtime_widget] the microphone could not be connected", err);
      if (node !== null) node.port.postMessage({ type: "close" });
      for (const part of [source, node, sink]) {
        try {
          if (part !== null) part.disconnect();
        } catch (_) {
          // never connected
        }
      }
      stopTracks();
      this.micMessage = micConnectMessage(err);
      this.setMic("unsupported");
      return;
    }
    const capture = /** @type {AudioWorkletNode} */ (node);
    capture.port.onmessage = (event) => this._onCaptureMessage(event.data);
    for (const track of stream.getAudioTracks()) {
      track.addEventListener("ended", () => {
        if (this.stream !== stream) return;
        this.micMessage = "The microphone stopped (unplugged or taken by another application).";
        this.stopMic();
      });
    }
    Object.assign(this, { stream, source, capNode: capture, sink });
    this.setMic("on");
  }

  /** @param {any} msg */
  _onCaptureMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "chunk") {
      if (this.sending && msg.buffer instanceof ArrayBuffer) {
        if (this.trace !== null) {
          const { offset, samples } = msg;
          this.trace.push({ event: "mic", t: rtwEpochMs(), tw: msg.t, offset, samples });
        }
        this.model.send({ type: "audio" }, undefined, [msg.buffer]);
      }
    } else if (msg.type === "level") {
      this.inLevel = msg.rms;
      this.emit({ kind: "levels" });
    } else if (msg.type === "flushed") {
      if (this.pttFlushing) {
        this.pttFlushing = false;
        this.model.send({ type: "ptt_stop" });
        this.emit({ kind: "audio" });
      }
    } else if (msg.type === "error") {
      console.warn("[realtime_widget] capture:", msg.message);
    }
  }

  /** Stops the microphone and releases the device; the shared `mic` trait goes "off". */
  stopMic() {
    this._releaseMic();
    if (this.micClaimed()) this.setMic("off");
  }

  /**
   * Releases this page's capture (the trait is left as it is). A push-to-talk turn under way
   * ends with `ptt_stop` at once: the capture node's flush would never be answered now, and
   * what was said is committed (less the last chunk, under 80 ms).
   */
  _releaseMic() {
    const unfinished = this.pttHeld || this.pttFlushing;
    this.pttHeld = false;
    this.pttFlushing = false;
    const node = this.capNode;
    if (node !== null) {
      node.port.postMessage({ type: "close" });
      node.port.onmessage = null;
      node.disconnect();
    }
    if (this.source !== null) this.source.disconnect();
    if (this.sink !== null) this.sink.disconnect();
    if (this.stream !== null) for (const track of this.stream.getTracks()) track.stop();
    this.capNode = null;
    this.source = null;
    this.sink = null;
    this.stream = null;
    this.inLevel = 0;
    if (unfinished) this.model.send({ type: "ptt_stop" });
    this.emit({ kind: "levels" });
    this.emit({ kind: "audio" });
  }

  /** Push-to-talk pressed: stop the model talking and capture from now on. */
  pttPress() {
    if (this.pttHeld) return;
    this.pttHeld = true;
    this.pttFlushing = false;
    if (this.playing !== null) this.interruptPlayback();
    if (this.capNode !== null) this.capNode.port.postMessage({ type: "reset" });
    this.model.send({ type: "ptt_start" });
    this.emit({ kind: "audio" });
  }

  /** Push-to-talk released: send what is left, then ask for the response. */
  pttRelease() {
    if (!this.pttHeld) return;
    this.pttHeld = false;
    if (this.capNode !== null) {
      this.pttFlushing = true;
      this.capNode.port.postMessage({ type: "flush" });
    } else {
      this.model.send({ type: "ptt_stop" });
    }
    this.emit({ kind: "audio" });
  }

  dispose() {
    this.disposed = true;
    if (this.orphanTimer !== null) clearTimeout(this.orphanTimer);
    this.orphanTimer = null;
    if (this.capNode !== null) {
      this._releaseMic();
      try {
        this.setMic("off"); // the model may already be closed
      } catch (_) {
        // nothing to tell then
      }
    }
    this.model.off("msg:custom", this._onCustom);
    this.model.off("change:items", this._onItems);
    this.model.off("change:connection", this._onConnection);
    this.model.off("change:mic", this._onMic);
    if (this.playNode !== null) {
      this.playNode.port.postMessage({ type: "close" });
      this.playNode.port.onmessage = null;
      this.playNode.disconnect();
      this.playNode = null;
    }
    if (this.ctx !== null) this.ctx.close().catch(() => {});
    this.ctx = null;
    if (this.workletUrl !== null) URL.revokeObjectURL(this.workletUrl);
    this.workletUrl = null;
    this.pending = [];
    this.listeners.clear();
  }
}
