// RtwMic, one per session: this page's microphone (the device, its source node, the capture
// worklet and the muted path that keeps it pulled) and push-to-talk. The session owns the
// AudioContext (the capture worklet runs in it, beside the playback worklet), the model and
// the trace; the microphone uses them through `this.session`.
//
// The `mic` trait is shared by every page showing the widget; a page knows only whether it
// captures itself (`capturing`). start() (from a click: the permission prompt and the audio
// engine need its gesture) sets the trait "starting", then "on", or "denied"/"unsupported"
// with `message` saying why, the device released; it never rejects. A start that the trait
// leaving "starting" overtook (another page turned the mic off, or this one), or that ends
// after the session lost its last view or was disposed, releases the device again.
//
// Captured chunks go to the kernel only while `sending`: connected, the trait "on", not
// `muted` (a muted microphone stays open: nothing is sent, the level still shows), and in
// manual turns only while the talk button is held or its last chunk is being flushed.
// `deviceId` picks the input device ("": the browser's default); choosing another while
// capturing reopens the microphone on it.
// Push-to-talk: pttPress() cuts what plays, restarts the capture's chunking and sends
// `ptt_start`; pttRelease() asks the capture node to flush its last chunk and sends `ptt_stop`
// once it has (at once without a capture node). A turn under way when the device is released
// ends with `ptt_stop` at once.
//
// Assembly: as every js/widget file (see js/widget/session.js): no imports, unique
// top-level names, no side effects at import.

/** This page's microphone and push-to-talk, for one session. */
export class RtwMic {
  /** @param {RtwSession} session */
  constructor(session) {
    this.session = session;
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this.source = null;
    /** @type {AudioWorkletNode | null} the capture worklet */
    this.node = null;
    /** @type {GainNode | null} */
    this.sink = null;
    /** start() is under way (awaiting the permission prompt or the audio engine) */
    this.starting = false;
    /** why the microphone is "denied" or "unsupported" */
    this.message = "";
    /** the captured level (RMS) */
    this.level = 0;
    this.pttHeld = false;
    this.pttFlushing = false;
    /** open but sending nothing (this page only) */
    this.muted = false;
    /** the input device chosen ("": the browser's default) */
    this.deviceId = "";
  }

  /** Whether this page captures, or is starting to. */
  get capturing() {
    return this.node !== null || this.starting;
  }

  /** Whether captured audio goes to the kernel now. */
  get sending() {
    const model = this.session.model;
    if (model.get("connection") !== "connected" || model.get("mic") !== "on" || this.muted) return false;
    if (this.session.call !== null) return false; // the call carries it (js/widget/webrtc.js)
    return model.get("turn_detection") !== "manual" || this.pttHeld || this.pttFlushing;
  }

  /**
   * Starts the microphone (call from a click). Sets `mic` and, on failure, `message`;
   * never rejects: every failure ends in "denied" or "unsupported" with the device released.
   * @returns {Promise<void>}
   */
  async start() {
    if (this.capturing) return;
    const env = {
      isSecureContext: globalThis.isSecureContext,
      mediaDevices: globalThis.navigator ? navigator.mediaDevices : undefined,
      AudioContext: /** @type {any} */ (globalThis).AudioContext,
      AudioWorkletNode: globalThis.AudioWorkletNode,
    };
    const reason = micUnsupportedReason(env);
    if (reason !== null) {
      this.message = reason;
      this.session.setMic("unsupported");
      return;
    }
    this.message = "";
    this.starting = true;
    this.session.setMic("starting");
    try {
      await this._open();
    } finally {
      this.starting = false;
    }
  }

  async _open() {
    const session = this.session;
    const audio = session.ensureAudio();
    /** @type {MediaStream} */
    let stream;
    try {
      /** @type {MediaTrackConstraints} */
      const wanted = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
      if (this.deviceId !== "") wanted.deviceId = { exact: this.deviceId };
      stream = await navigator.mediaDevices.getUserMedia({ audio: wanted });
    } catch (err) {
      const state = micErrorState(err);
      this.message = state.message;
      session.setMic(state.mic);
      return;
    }
    const stopTracks = () => {
      for (const track of stream.getTracks()) track.stop();
    };
    try {
      await audio;
    } catch (err) {
      stopTracks();
      this.message = session.audioMessage || "Audio could not start.";
      session.setMic("unsupported");
      return;
    }
    if (session.disposed || session.orphaned || session.model.get("mic") !== "starting") {
      // disposed, no view left, or turned off (here or on another page) while starting
      stopTracks();
      if (!session.disposed && session.model.get("mic") === "starting") session.setMic("off");
      return;
    }
    const ctx = /** @type {AudioContext} */ (session.ctx);
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
        processorOptions: { chunkMs: 80, levelMs: 50, trace: session.trace !== null },
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
      this.message = micConnectMessage(err);
      session.setMic("unsupported");
      return;
    }
    const capture = /** @type {AudioWorkletNode} */ (node);
    capture.port.onmessage = (event) => this._onCaptureMessage(event.data);
    for (const track of stream.getAudioTracks()) {
      track.addEventListener("ended", () => {
        if (this.stream !== stream) return;
        this.message = "The microphone stopped (unplugged or taken by another application).";
        this.stop();
      });
    }
    Object.assign(this, { stream, source, node: capture, sink });
    if (session.call !== null) session.call.syncMic();
    session.setMic("on");
  }

  /** @param {any} msg */
  _onCaptureMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    const session = this.session;
    if (msg.type === "chunk") {
      if (this.sending && msg.buffer instanceof ArrayBuffer) {
        if (session.trace !== null) {
          const { offset, samples } = msg;
          session.trace.push({ event: "mic", t: rtwEpochMs(), tw: msg.t, offset, samples });
        }
        session.wire.sendAudio(msg.buffer);
      }
    } else if (msg.type === "level") {
      this.level = msg.rms;
      session.emit({ kind: "levels" });
    } else if (msg.type === "flushed") {
      if (this.pttFlushing) {
        this.pttFlushing = false;
        if (session.call !== null) session.call.syncMic();
        session.wire.send({ type: "ptt_stop" });
        session.emit({ kind: "audio" });
      }
    } else if (msg.type === "error") {
      console.warn("[realtime_widget] capture:", msg.message);
    }
  }

  /** Stops the microphone and releases the device; the shared `mic` trait goes "off". */
  stop() {
    this.release();
    if (this.session.micClaimed()) this.session.setMic("off");
  }

  /**
   * Releases this page's capture (the trait is left as it is). A push-to-talk turn under way
   * ends with `ptt_stop` at once: the capture node's flush would never be answered now, and
   * what was said is committed (less the last chunk, under 80 ms).
   */
  release() {
    const unfinished = this.pttHeld || this.pttFlushing;
    this.pttHeld = false;
    this.pttFlushing = false;
    const node = this.node;
    if (node !== null) {
      node.port.postMessage({ type: "close" });
      node.port.onmessage = null;
      node.disconnect();
    }
    if (this.source !== null) this.source.disconnect();
    if (this.sink !== null) this.sink.disconnect();
    if (this.stream !== null) for (const track of this.stream.getTracks()) track.stop();
    this.node = null;
    this.source = null;
    this.sink = null;
    this.stream = null;
    this.level = 0;
    if (this.session.call !== null) this.session.call.syncMic();
    if (unfinished) this.session.wire.send({ type: "ptt_stop" });
    this.session.emit({ kind: "levels" });
    this.session.emit({ kind: "audio" });
  }

  /**
   * Captures from the input device `id` from now on ("": the browser's default): the
   * microphone reopens there if it is on.
   * @param {string} id
   */
  async useDevice(id) {
    if (id === this.deviceId) return;
    this.deviceId = id;
    if (this.node === null) return;
    this.release();
    await this.start();
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.muted = muted;
    if (this.session.call !== null) this.session.call.syncMic();
    this.session.emit({ kind: "audio" });
  }

  /** Push-to-talk pressed: stop the model talking and capture from now on. */
  pttPress() {
    if (this.pttHeld) return;
    this.pttHeld = true;
    this.pttFlushing = false;
    if (this.session.playing !== null) this.session.interruptPlayback();
    else if (this.session.call !== null) this.session.wire.send({ type: "stop" }); // the call's answer
    if (this.node !== null) this.node.port.postMessage({ type: "reset" });
    this.session.wire.send({ type: "ptt_start" });
    if (this.session.call !== null) this.session.call.syncMic();
    this.session.emit({ kind: "audio" });
  }

  /** Push-to-talk released: send what is left, then ask for the response. */
  pttRelease() {
    if (!this.pttHeld) return;
    this.pttHeld = false;
    if (this.node !== null) {
      this.pttFlushing = true;
      this.node.port.postMessage({ type: "flush" });
    } else {
      this.session.wire.send({ type: "ptt_stop" });
    }
    if (this.session.call !== null) this.session.call.syncMic();
    this.session.emit({ kind: "audio" });
  }
}
