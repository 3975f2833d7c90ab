// Binary buffers between page and kernel, and the fallback where the host drops them (the
// kernel's side and the rules: realtime_widget/widget/wire.py).
//
// When a session starts it sends `probe {id}` with RTW_PROBE_SIZE known bytes as a buffer.
// The kernel answers `probe_echo {id, intact}` (whether those bytes arrived intact) with the
// same bytes as a buffer, and the page says in `probe_result {id, intact}` whether they
// reached it. Where buffers do not survive, audio in that direction goes as base64 text in
// the message's `data`: the page's microphone chunks (decided here: text until the echo
// says buffers arrive), the kernel's audio and item audio (decided by the kernel). Either
// form is read on arrival (`rtwAudioOf`).
//
// A test-only switch simulates a host that drops buffers: a page that sets
// `window.__rtwDropBuffers = true` before the widget starts gets an RtwWire that strips the
// buffers of every message it sends and ignores those it receives; the probe is unchanged.
//
// Assembly (see realtime_widget/widget/frontend.py): no imports, top-level names unique
// across js/lib and js/widget, no side effects at import.

/** Bytes in the probe's buffer: every value once, so a host that re-encodes shows. */
const RTW_PROBE_SIZE = 256;
/** Bytes per `String.fromCharCode` call when encoding (under engines' argument limits). */
const RTW_BASE64_STEP = 0x8000;

/**
 * @typedef {"probing" | "binary" | "text"} RtwWay how audio goes one way: not known yet,
 *   as buffers, or as base64 text
 */

/** @returns {ArrayBuffer} the probe's bytes: 0, 1, ..., 255 */
export function rtwProbeBytes() {
  const bytes = new Uint8Array(RTW_PROBE_SIZE);
  for (let i = 0; i < RTW_PROBE_SIZE; i++) bytes[i] = i;
  return bytes.buffer;
}

/**
 * The bytes a buffer as the comm delivers it covers (an ArrayBuffer or a view), or null.
 * @param {any} data
 * @returns {Uint8Array | null}
 */
function rtwBytesOf(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/**
 * Whether `buffers` is exactly one buffer holding the probe's bytes.
 * @param {any} buffers
 * @returns {boolean}
 */
export function rtwProbeIntact(buffers) {
  if (!Array.isArray(buffers) || buffers.length !== 1) return false;
  const bytes = rtwBytesOf(buffers[0]);
  if (bytes === null || bytes.length !== RTW_PROBE_SIZE) return false;
  for (let i = 0; i < RTW_PROBE_SIZE; i++) if (bytes[i] !== i) return false;
  return true;
}

/**
 * Bytes as base64 text.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {string}
 */
export function rtwBase64Encode(data) {
  const bytes = /** @type {Uint8Array} */ (rtwBytesOf(data));
  let binary = "";
  for (let i = 0; i < bytes.length; i += RTW_BASE64_STEP) {
    binary += String.fromCharCode.apply(null, /** @type {any} */ (bytes.subarray(i, i + RTW_BASE64_STEP)));
  }
  return btoa(binary);
}

/**
 * The bytes of base64 `text` in a fresh ArrayBuffer, or null when it is not base64.
 * @param {any} text
 * @returns {ArrayBuffer | null}
 */
export function rtwBase64Decode(text) {
  if (typeof text !== "string") return null;
  let binary;
  try {
    binary = atob(text);
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/**
 * The audio a kernel message carries, whichever form it took: its base64 `data`, or its one
 * buffer (copied out of a view); null when it carries neither.
 * @param {any} msg
 * @param {any} buffers
 * @returns {ArrayBuffer | null}
 */
export function rtwAudioOf(msg, buffers) {
  if (typeof msg.data === "string") return rtwBase64Decode(msg.data);
  if (!Array.isArray(buffers) || buffers.length !== 1) return null;
  const data = buffers[0];
  if (data instanceof ArrayBuffer) return data;
  return ArrayBuffer.isView(data) ? toArrayBuffer(data) : null;
}

/** How one session's messages travel: the probe, and the audio each way. */
export class RtwWire {
  /**
   * @param {AnyModel} model
   * @param {boolean} [dropBuffers] simulate a host that drops buffers (tests; see the top)
   */
  constructor(model, dropBuffers = false) {
    this.model = model;
    this.dropBuffers = dropBuffers;
    this.id = `probe-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    /** @type {RtwWay} the microphone's chunks to the kernel */
    this.toKernel = "probing";
    /** @type {RtwWay} the kernel's buffers to this page */
    this.fromKernel = "probing";
  }

  /** Sends the probe (once, when the session starts). */
  start() {
    this.send({ type: "probe", id: this.id }, [rtwProbeBytes()]);
  }

  /**
   * Sends a message with its buffers (dropped by a simulated host).
   * @param {any} content
   * @param {ArrayBuffer[]} [buffers]
   */
  send(content, buffers) {
    if (buffers === undefined || this.dropBuffers) this.model.send(content);
    else this.model.send(content, undefined, buffers);
  }

  /**
   * The buffers of a message received, as the host delivers them.
   * @param {any} buffers
   * @returns {any[]}
   */
  received(buffers) {
    return this.dropBuffers || !Array.isArray(buffers) ? [] : buffers;
  }

  /**
   * Sends a microphone chunk: as a buffer once buffers are known to reach the kernel, as
   * base64 text otherwise (while probing too: nothing is lost either way).
   * @param {ArrayBuffer} buffer a whole, fresh buffer (see `toArrayBuffer`)
   */
  sendAudio(buffer) {
    if (this.toKernel === "binary") this.send({ type: "audio" }, [buffer]);
    else this.model.send({ type: "audio", data: rtwBase64Encode(buffer) });
  }

  /**
   * The kernel's answer to a probe: learns both ways and answers with `probe_result`.
   * Returns false for another page's probe (every page gets every echo).
   * @param {{id: string, intact: boolean}} echo
   * @param {any[]} buffers
   * @returns {boolean}
   */
  echoed(echo, buffers) {
    if (echo.id !== this.id || this.fromKernel !== "probing") return false;
    const intact = rtwProbeIntact(buffers);
    this.toKernel = echo.intact ? "binary" : "text";
    this.fromKernel = intact ? "binary" : "text";
    this.model.send({ type: "probe_result", id: this.id, intact });
    if (this.toKernel === "text" || this.fromKernel === "text") {
      console.info(`[realtime_widget] ${this.notice()}`);
    }
    return true;
  }

  /** What the view says of the wire: "" while buffers work (or before it is known). */
  notice() {
    const out = this.toKernel === "text";
    const back = this.fromKernel === "text";
    if (!out && !back) return "";
    const ways = out && back ? "both ways" : out ? "to the kernel" : "from the kernel";
    return `This page drops binary messages ${ways}: audio travels as text there (a third more traffic).`;
  }
}
