// RtwSession, one per widget model on a page: the kernel's messages, the item store, the
// AudioContext and the playback worklet; its microphone and push-to-talk are an RtwMic
// (js/widget/mic.js). Nothing audio starts before a click: start() only subscribes and says
// hello.
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
// whether it captures itself (`mic.capturing`). A session that captures stops when the trait
// leaves "on"/"starting" (another page turned the mic off), or when the connection ends
// ("disconnected", or "error": no reconnect follows). A session starting on a page while the
// trait reads "on" does not reset it (another page may be capturing): it sends `mic_check`;
// the kernel asks every page, a capturing one answers `mic_held`, and the kernel turns a mic
// nobody holds "off" (a reloaded page's).
//
// Assembly (see realtime_widget/widget/frontend.py): the widget's one ES module is js/lib/*.js with
// `export ` stripped, then js/widget/*.js as they are, then js/widget.js. So this file has no
// imports, declares top-level names unique across js/lib and js/widget, and has no side
// effects at import; the lib declarations are in scope.
//
// Tracing (a measuring aid, off unless the page sets `window.__rtwTrace = []` before the
// widget starts): the session and its mic then push `{event, t, ...}` records to it, `t` in
// wall-clock epoch ms (`Date.now()` in the worklets; here `performance.now()` on an anchor
// kept to `Date.now()`, for sub-millisecond steps on the clock the kernel and the worklets
// use, even when the system clock is stepped): "mic" (a captured chunk sent to the kernel; `tw`: when the capture worklet
// posted it), "audio" and "interrupt" (kernel messages received), and the playback
// worklet's "queued" (a push received) and "silent" (the first silent block after an
// interrupt). With tracing off, each hot path pays one null check.
//
// Buffers: `window.__rtwDropBuffers = true`, set before the widget starts, simulates a host
// that drops binary buffers (tests only; see js/widget/wire.js).

/**
 * What changed, for the views: "items" several items at once (an `items` state or a
 * snapshot), "item" one summary, "removed" one item gone, "delta" a streamed piece.
 * @typedef {({kind: "items"} & StoreChanges) | {kind: "item", id: string}
 *   | {kind: "removed", id: string}
 *   | {kind: "delta", id: string, field: "text" | "transcript" | "arguments", delta: string}
 *   | {kind: "audio"} | {kind: "levels"}
 *   | {kind: "log", entries: LogEntry[], reset: boolean}
 *   | {kind: "images", id: string}} SessionEvent
 */

/** Event log entries a page keeps (the kernel keeps as many). */
const RTW_MAX_LOG = 500;
/** How long an answer to a request (transcript, an item's audio) is awaited. */
const RTW_ASK_MS = 20000;

/** `Date.now()` minus `performance.now()`, give or take a millisecond (see rtwEpochMs). */
let rtwClockAnchor = Number.NaN;

/**
 * Wall-clock epoch milliseconds, sub-millisecond (trace records): `performance.now()` is
 * monotonic and drifts from the wall clock when the system clock is stepped, so its anchor
 * moves to `Date.now()` (whole milliseconds: + 0.5 centres its rounding down) once they
 * part by more than 1.5 ms.
 */
function rtwEpochMs() {
  const now = performance.now();
  const wall = Date.now() + 0.5;
  if (!(Math.abs(wall - (rtwClockAnchor + now)) <= 1.5)) rtwClockAnchor = wall - now;
  return rtwClockAnchor + now;
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
    /** @type {any[]} messages for the playback worklet until it exists */
    this.pending = [];
    /** @type {Map<string, number>} */
    this.playedSentAt = new Map();
    /** @type {string | null} */
    this.playing = null;
    this.outLevel = 0;
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
    /** @type {Map<number, LogEntry>} the event log by seq, oldest first (RTW_MAX_LOG kept) */
    this.log = new Map();
    /** @type {Map<string, string[]>} images of items by id (each asked for once) */
    this.images = new Map();
    /** @type {Map<string, {resolve: (value: any) => void, timer: ReturnType<typeof setTimeout>}[]>} */
    this.waiting = new Map();
    /** @type {GainNode | null} the output volume, between playback and the speakers */
    this.outGain = null;
    this.volume = 1;
    /** the output device chosen ("": the system's) */
    this.sinkId = "";
    /** @type {AudioBufferSourceNode | null} an item's audio replayed */
    this.replaying = null;
    /** @type {string | null} */
    this.replayId = null;
    const trace = /** @type {any} */ (globalThis).__rtwTrace;
    /** @type {any[] | null} trace records, when the page asked for them (see the top) */
    this.trace = Array.isArray(trace) ? trace : null;
    /** how messages travel between this page and the kernel (js/widget/wire.js) */
    this.wire = new RtwWire(model, /** @type {any} */ (globalThis).__rtwDropBuffers === true);
    this.wire.onKernel = (content, buffers) => this._fromKernel(content, buffers);
    this.mic = new RtwMic(this);
    /** @type {RtwCall | null} this page's WebRTC call (js/widget/webrtc.js) */
    this.call = null;
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
    this.wire.start();
    this.wire.send({ type: "hello" });
    // Another page may capture, or a reloaded page left the trait on: the kernel finds out.
    if (this.micClaimed()) this.wire.send({ type: "mic_check" });
  }

  /** Whether the shared `mic` trait says some page captures (or is starting to). */
  micClaimed() {
    const mic = this.model.get("mic");
    return mic === "on" || mic === "starting";
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
    if (this.mic.capturing) this.mic.stop();
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
    // stays open but nothing is sent (`mic.sending`); audio resumes with the new session.
    if ((state === "disconnected" || state === "error") && this.mic.capturing) this.mic.stop();
  }

  _onMic() {
    // Another page (or the kernel) turned the shared mic off: release this page's device.
    if (!this.micClaimed() && this.mic.node !== null) this.mic.release();
  }

  /**
   * @param {any} content
   * @param {DataView[]} [buffers]
   */
  _onCustom(content, buffers) {
    if (!this.wire.ignores(content)) this._fromKernel(content, this.wire.received(buffers));
  }

  /**
   * A kernel message, by the comm or by the page socket (js/widget/wire.js).
   * @param {any} content
   * @param {DataView[]} buffers
   */
  _fromKernel(content, buffers) {
    const msg = parseKernelMessage(content, buffers);
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
        if (msg.log !== null) this._logged(msg.log, true);
        break;
      }
      case "audio": {
        const buffer = msg.data;
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
            this.wire.send({ type: "interrupted", item_id: msg.item_id, played_samples: played });
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
        if (this.mic.capturing) this.wire.send({ type: "mic_held" });
        break;
      case "log":
        this._logged(msg.entries, msg.reset);
        break;
      case "transcript":
        this._answered("transcript", msg.text);
        break;
      case "item_audio":
        this._answered(`item_audio:${msg.item_id}`, msg.data);
        break;
      case "probe_echo":
        if (this.wire.echoed(msg, buffers)) this.emit({ kind: "audio" });
        break;
      case "page_socket":
        this.wire.offerSocket(msg.url);
        break;
      case "comm_off":
        this.wire.commOffCame(msg.id);
        break;
      case "item_images":
        this.images.set(msg.item_id, msg.urls);
        this.emit({ kind: "images", id: msg.item_id });
        break;
      case "call":
        if (this.ctx === null) this.ensureAudio().catch(() => {}); // the output meter's
        rtwStartCall(this, msg);
        break;
      case "hang_up":
        rtwHangUp(this, msg.call_id);
        break;
    }
  }

  /**
   * Event log entries to keep (in place of what is kept, with `reset`).
   * @param {LogEntry[]} entries
   * @param {boolean} reset
   */
  _logged(entries, reset) {
    if (reset) this.log.clear();
    for (const entry of entries) {
      this.log.set(entry.seq, entry);
      if (this.log.size > RTW_MAX_LOG) this.log.delete(/** @type {number} */ (this.log.keys().next().value));
    }
    this.emit({ kind: "log", entries, reset });
  }

  /**
   * Sends `request` and resolves with the kernel's answer of kind `key` (oldest asker
   * first); rejects after RTW_ASK_MS without one.
   * @param {any} request
   * @param {string} key
   * @returns {Promise<any>}
   */
  ask(request, key) {
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(key) ?? [];
      this.waiting.set(key, queue);
      const waiter = {
        resolve,
        timer: setTimeout(() => {
          const index = queue.indexOf(waiter);
          if (index >= 0) queue.splice(index, 1);
          reject(new Error("the kernel did not answer"));
        }, RTW_ASK_MS),
      };
      queue.push(waiter);
      this.wire.send(request);
    });
  }

  /**
   * @param {string} key
   * @param {any} value
   */
  _answered(key, value) {
    const waiter = this.waiting.get(key)?.shift();
    if (waiter === undefined) return;
    clearTimeout(waiter.timer);
    waiter.resolve(value);
  }

  /** Asks for an item's images once; they come as an "images" event. @param {string} id */
  wantImages(id) {
    if (this.images.has(id)) return;
    this.images.set(id, []);
    this.wire.send({ type: "item_images", item_id: id });
  }

  /**
   * The item's audio from the kernel: PCM16 at 24 kHz.
   * @param {string} id
   * @param {"play" | "download"} purpose
   * @returns {Promise<Int16Array>}
   */
  async itemAudio(id, purpose) {
    const data = await this.ask({ type: "item_audio", item_id: id, purpose }, `item_audio:${id}`);
    return new Int16Array(data, 0, data.byteLength >> 1);
  }

  /**
   * Plays the item's audio again, through the volume (stops a replay under way).
   * @param {string} id
   */
  async replay(id) {
    this.stopReplay();
    await this.ensureAudio();
    const pcm = await this.itemAudio(id, "play");
    const ctx = /** @type {AudioContext} */ (this.ctx);
    const buffer = ctx.createBuffer(1, pcm.length, 24000);
    buffer.getChannelData(0).set(Float32Array.from(pcm, (v) => v / 32768));
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(/** @type {GainNode} */ (this.outGain));
    source.onended = () => {
      if (this.replaying !== source) return;
      this.replaying = null;
      this.replayId = null;
      this.emit({ kind: "audio" });
    };
    this.stopReplay();
    this.replaying = source;
    this.replayId = id;
    source.start();
    this.emit({ kind: "audio" });
  }

  stopReplay() {
    const source = this.replaying;
    if (source === null) return;
    this.replaying = null;
    this.replayId = null;
    try {
      source.stop();
    } catch (_) {
      // never started
    }
    source.disconnect();
    this.emit({ kind: "audio" });
  }

  /** @param {number} volume 0..1 */
  setVolume(volume) {
    this.volume = Math.min(1, Math.max(0, volume));
    if (this.outGain !== null) this.outGain.gain.value = this.volume;
    if (this.call !== null) this.call.setVolume(this.volume);
  }

  /**
   * Plays through the output device `id` ("": the system's). Rejects where the browser
   * cannot choose (see `outputChoiceSupported`).
   * @param {string} id
   */
  async setSinkId(id) {
    if (!outputChoiceSupported(globalThis)) throw new Error("this browser cannot choose the speaker");
    this.sinkId = id;
    const ctx = /** @type {any} */ (this.ctx);
    if (ctx !== null) await ctx.setSinkId(id);
    if (this.call !== null) await this.call.setSinkId(id);
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
      const gain = ctx.createGain();
      gain.gain.value = this.volume;
      node.connect(gain);
      gain.connect(ctx.destination);
      this.outGain = gain;
      if (this.sinkId !== "" && outputChoiceSupported(globalThis)) {
        /** @type {any} */ (ctx).setSinkId(this.sinkId).catch((/** @type {any} */ err) => console.warn("[realtime_widget] speaker choice failed", err));
      }
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
        this.wire.send({
          type: "interrupted",
          item_id: itemId,
          played_samples: this._position(itemId, msg.playedSamples),
        });
        if (typeof msg.itemId === "string") this.playedSentAt.delete(msg.itemId);
        this.playing = null;
        this.emit({ kind: "audio" });
        break;
      }
      case "underruns": {
        // in 24 kHz samples, the unit of played_samples, whatever the context's rate
        const rate = this.ctx !== null ? this.ctx.sampleRate : 24000;
        const fill = Math.round((msg.fillFrames * 24000) / rate);
        this.wire.send({ type: "underruns", item_id: msg.itemId, count: msg.count, fill_samples: fill });
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
    this.wire.send({ type: "played", item_id: itemId, played_samples: position });
  }

  /** Stops playback at once; the worklet's answer goes to the kernel as `interrupted`. */
  interruptPlayback() {
    if (this.playNode !== null) {
      this.playNode.port.postMessage({ type: "interrupt" });
      return;
    }
    this.pending = [];
    this.wire.send({ type: "interrupted", item_id: null, played_samples: 0 });
  }

  /** The user's Stop: cut playback (which cancels the response) or cancel the response. */
  stop() {
    if (this.playNode !== null) this.interruptPlayback();
    else this.wire.send({ type: "stop" });
  }

  dispose() {
    this.disposed = true;
    this.stopReplay();
    if (this.call !== null) this.call.close();
    this.call = null;
    for (const queue of this.waiting.values()) for (const waiter of queue) clearTimeout(waiter.timer);
    this.waiting.clear();
    if (this.orphanTimer !== null) clearTimeout(this.orphanTimer);
    this.orphanTimer = null;
    if (this.mic.node !== null) {
      this.mic.release();
      try {
        this.setMic("off"); // the model may already be closed
      } catch (_) {
        // nothing to tell then
      }
    }
    this.wire.close();
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
    if (this.outGain !== null) this.outGain.disconnect();
    this.outGain = null;
    if (this.ctx !== null) this.ctx.close().catch(() => {});
    this.ctx = null;
    if (this.workletUrl !== null) URL.revokeObjectURL(this.workletUrl);
    this.workletUrl = null;
    this.pending = [];
    this.listeners.clear();
  }
}
