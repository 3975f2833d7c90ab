// RtwCall, at most one per session: this page's WebRTC call, when the widget's transport is
// "webrtc" (see realtime_widget/widget/webrtc.py for the kernel's side). The kernel sends
// `call {request, url, secret, timeout_ms}`: the page opens an RTCPeerConnection with one
// sendrecv audio transceiver (the microphone's track once it is on) and the `oai-events`
// data channel, posts its SDP offer to `url` with the client secret as its bearer
// credential (the only credential a page ever holds), applies the answer and waits for the
// connection; then it answers `call_started {request, call_id}` (the id is the Location
// header's last segment) or `call_failed {request, reason}`. The kernel joins the call
// through its sideband: the events the page's data channel carries are the kernel's
// business, so the page reads none of them.
//
// The model's voice plays from the remote track through an <audio> element, at the
// session's volume and on its output device where the browser can choose it; an analyser
// on the same stream drives the output meter. The microphone (RtwMic) sends a clone of its
// track, enabled while it would send: not muted, and in manual turns only while the talk
// button is held. `hang_up` (or the session going away) closes the call.
//
// Assembly: as every js/widget file (see js/widget/session.js): no imports, unique
// top-level names, no side effects at import.

/** The data channel the service's events travel on. */
const RTW_CALL_CHANNEL = "oai-events";
/** How often the output meter is read. */
const RTW_CALL_METER_MS = 50;

/**
 * Why this browser cannot make a call, or null when it can.
 * @param {{RTCPeerConnection?: unknown, fetch?: unknown}} env
 * @returns {string | null}
 */
export function callUnsupportedReason(env) {
  if (typeof env.RTCPeerConnection !== "function") return "this browser has no RTCPeerConnection";
  if (typeof env.fetch !== "function") return "this browser has no fetch";
  return null;
}

/**
 * The call id a Location header names (`/v1/realtime/calls/rtc_...`): its last path segment,
 * or null when there is none.
 * @param {string | null} location
 * @returns {string | null}
 */
export function callIdFromLocation(location) {
  if (typeof location !== "string") return null;
  const path = location.split("?")[0].replace(/\/+$/, "");
  const id = path.slice(path.lastIndexOf("/") + 1);
  return id !== "" && id.length <= 256 ? id : null;
}

/**
 * Resolves once `pc` is connected; rejects when it fails or closes, or after `ms`.
 * @param {RTCPeerConnection} pc
 * @param {number} ms
 * @returns {Promise<void>}
 */
function rtwConnected(pc, ms) {
  return new Promise((resolve, reject) => {
    const done = (/** @type {Error | null} */ error) => {
      clearTimeout(timer);
      pc.removeEventListener("connectionstatechange", check);
      if (error === null) resolve();
      else reject(error);
    };
    const check = () => {
      const state = pc.connectionState;
      if (state === "connected") done(null);
      else if (state === "failed" || state === "closed") done(new Error(`the peer connection ${state} (ICE)`));
    };
    const timer = setTimeout(() => done(new Error(`the peer connection did not connect within ${ms} ms (ICE)`)), ms);
    pc.addEventListener("connectionstatechange", check);
    check();
  });
}

/** One WebRTC call of a session (see the top). */
export class RtwCall {
  /** @param {RtwSession} session */
  constructor(session) {
    this.session = session;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** @type {RTCRtpSender | null} */
    this.sender = null;
    /** @type {RTCDataChannel | null} */
    this.channel = null;
    /** @type {HTMLAudioElement | null} */
    this.audio = null;
    /** @type {MediaStreamTrack | null} the clone of the microphone's track being sent */
    this.sent = null;
    /** @type {MediaStreamTrack | null} the microphone track it was cloned from */
    this.source = null;
    /** @type {AnalyserNode | null} */
    this.analyser = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.meter = null;
    /** the kernel's request this call answers */
    this.request = "";
    this.id = "";
    this.closed = false;
  }

  /**
   * Makes the call: resolves with its id, rejects with why it could not be made.
   * @param {string} url the calls endpoint
   * @param {string} secret an ephemeral client secret
   * @param {number} timeoutMs for the whole of it
   * @returns {Promise<string>}
   */
  async open(url, secret, timeoutMs) {
    const why = callUnsupportedReason(globalThis);
    if (why !== null) throw new Error(why);
    const started = performance.now();
    const pc = new RTCPeerConnection();
    this.pc = pc;
    const transceiver = pc.addTransceiver("audio", { direction: "sendrecv" });
    this.sender = transceiver.sender;
    this.syncMic();
    this.channel = pc.createDataChannel(RTW_CALL_CHANNEL);
    pc.addEventListener("track", (event) => this._play(event.streams[0] ?? new MediaStream([event.track])));
    await pc.setLocalDescription(await pc.createOffer());
    const offer = /** @type {RTCSessionDescription} */ (pc.localDescription).sdp;
    const controller = new AbortController();
    const abort = setTimeout(() => controller.abort(), timeoutMs);
    /** @type {Response} */
    let answer;
    try {
      answer = await fetch(url, {
        method: "POST",
        body: offer,
        headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/sdp" },
        signal: controller.signal,
      });
    } catch (err) {
      throw new Error(`the calls endpoint ${url} could not be reached: ${err && /** @type {any} */ (err).message ? /** @type {any} */ (err).message : err}`);
    } finally {
      clearTimeout(abort);
    }
    const text = await answer.text();
    if (answer.status !== 201 && answer.status !== 200) {
      throw new Error(`the calls endpoint answered ${answer.status}: ${text.slice(0, 200)}`);
    }
    const id = callIdFromLocation(answer.headers.get("Location"));
    if (id === null) throw new Error("the calls endpoint named no call (no Location header it may show)");
    if (this.closed) throw new Error("the call was ended while it was made");
    await pc.setRemoteDescription({ type: "answer", sdp: text });
    await rtwConnected(pc, Math.max(1000, timeoutMs - (performance.now() - started)));
    this.id = id;
    pc.addEventListener("connectionstatechange", () => this.session.emit({ kind: "audio" }));
    return id;
  }

  /** @param {MediaStream} stream the model's voice */
  _play(stream) {
    const session = this.session;
    const audio = new Audio();
    audio.autoplay = true;
    audio.srcObject = stream;
    audio.volume = session.volume;
    this.audio = audio;
    if (session.sinkId !== "" && typeof (/** @type {any} */ (audio).setSinkId) === "function") {
      /** @type {any} */ (audio).setSinkId(session.sinkId).catch(() => {});
    }
    audio.play().catch((err) => console.warn("[realtime_widget] the call's audio could not play", err));
    const ctx = session.ctx;
    if (ctx === null) return;
    try {
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      ctx.createMediaStreamSource(stream).connect(analyser);
      this.analyser = analyser;
      const samples = new Float32Array(analyser.fftSize);
      this.meter = setInterval(() => {
        analyser.getFloatTimeDomainData(samples);
        session.outLevel = rmsLevel(samples);
        session.emit({ kind: "levels" });
      }, RTW_CALL_METER_MS);
    } catch (err) {
      console.warn("[realtime_widget] no output meter for the call", err);
    }
  }

  /** Sends the microphone's track as RtwMic has it now: a clone, enabled while it would send. */
  syncMic() {
    const sender = this.sender;
    if (sender === null || this.closed) return;
    const mic = this.session.mic;
    const track = mic.stream !== null ? mic.stream.getAudioTracks()[0] ?? null : null;
    if (track !== this.source) {
      if (this.sent !== null) this.sent.stop();
      this.source = track;
      this.sent = track !== null ? track.clone() : null;
      sender.replaceTrack(this.sent).catch((err) => console.warn("[realtime_widget] the call's microphone", err));
    }
    if (this.sent !== null) {
      const manual = this.session.model.get("turn_detection") === "manual";
      this.sent.enabled = !mic.muted && (!manual || mic.pttHeld || mic.pttFlushing);
    }
  }

  /** @param {number} volume 0..1 */
  setVolume(volume) {
    if (this.audio !== null) this.audio.volume = volume;
  }

  /** @param {string} id the output device ("": the system's) */
  async setSinkId(id) {
    const audio = /** @type {any} */ (this.audio);
    if (audio !== null && typeof audio.setSinkId === "function") await audio.setSinkId(id);
  }

  /**
   * The remote audio's inbound-rtp statistics: bytes, packets and samples received so far.
   * @returns {Promise<{bytes: number, packets: number, samples: number} | null>}
   */
  async inbound() {
    if (this.pc === null) return null;
    const report = await this.pc.getStats();
    /** @type {{bytes: number, packets: number, samples: number} | null} */
    let found = null;
    report.forEach((/** @type {any} */ stat) => {
      if (stat.type === "inbound-rtp" && stat.kind === "audio") {
        found = { bytes: stat.bytesReceived ?? 0, packets: stat.packetsReceived ?? 0, samples: stat.totalSamplesReceived ?? 0 };
      }
    });
    return found;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.meter !== null) clearInterval(this.meter);
    this.meter = null;
    if (this.analyser !== null) this.analyser.disconnect();
    if (this.sent !== null) this.sent.stop();
    if (this.audio !== null) {
      this.audio.pause();
      this.audio.srcObject = null;
    }
    if (this.pc !== null) this.pc.close();
    this.session.outLevel = 0;
  }
}

/**
 * A `call` from the kernel: this page makes it when it shows the widget, and tells the
 * kernel how it went.
 * @param {RtwSession} session
 * @param {{request: string, url: string, secret: string, timeout_ms: number}} msg
 */
async function rtwStartCall(session, msg) {
  if (session.views === 0 || session.orphaned || session.disposed) return;
  if (session.call !== null && session.call.request === msg.request) return; // asked again
  if (session.call !== null) session.call.close();
  const call = new RtwCall(session);
  call.request = msg.request;
  session.call = call;
  session.emit({ kind: "audio" });
  try {
    const id = await call.open(msg.url, msg.secret, msg.timeout_ms);
    if (session.call !== call) throw new Error("the call was ended while it was made");
    session.wire.send({ type: "call_started", request: msg.request, call_id: id });
  } catch (err) {
    call.close();
    if (session.call === call) session.call = null;
    const reason = String(err && /** @type {any} */ (err).message ? /** @type {any} */ (err).message : err);
    console.warn("[realtime_widget] the WebRTC call could not be made:", reason);
    session.wire.send({ type: "call_failed", request: msg.request, reason });
  }
  session.emit({ kind: "audio" });
}

/**
 * `hang_up` from the kernel: ends the call `callId` (null: whichever).
 * @param {RtwSession} session
 * @param {string | null} callId
 */
function rtwHangUp(session, callId) {
  const call = session.call;
  if (call === null || (callId !== null && call.id !== callId)) return;
  call.close();
  session.call = null;
  session.emit({ kind: "audio" });
}
