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
// A page served from this machine also talks to the kernel over the kernel's page socket
// (realtime_widget/widget/pagesocket.py): the kernel offers it with `page_socket {url}`, the
// page opens `url?page=<id>`, and once the kernel says `ready` there, the page says
// `socket_switch {id}` by the comm and sends every message over the socket (microphone
// chunks as binary frames, the others as JSON text) until it closes. The probe and its
// result stay on the comm: they test the comm's buffers. The other way, the kernel says
// `comm_off {id}` by the comm and then sends this page's `audio`, `audio_done` and
// `interrupt` over the socket (a binary frame: length, JSON, buffer); the page holds what the
// socket brings until `comm_off` comes, and from then on ignores those types on the comm.
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

/** Host names of a page served from this machine: only such a page opens the page socket. */
const RTW_LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];
/** WebSocket.OPEN */
const RTW_SOCKET_OPEN = 1;
/** The kernel's messages that come over the page socket once the comm says `comm_off`. */
const RTW_AUDIO_PATH = ["audio", "audio_done", "interrupt"];
/** Kernel messages held at most while `comm_off` has not come (then the oldest go). */
const RTW_MAX_HELD_IN = 4096;

/**
 * A binary frame of the page socket as the kernel writes it (a 4-byte little-endian length,
 * that many bytes of JSON, then the message's one buffer), or null when it is not one.
 * @param {ArrayBuffer} data
 * @returns {{content: any, buffers: DataView[]} | null}
 */
export function rtwUnframe(data) {
  if (!(data instanceof ArrayBuffer) || data.byteLength < 4) return null;
  const length = new DataView(data).getUint32(0, true);
  if (4 + length > data.byteLength) return null;
  let content;
  try {
    content = JSON.parse(new TextDecoder().decode(new Uint8Array(data, 4, length)));
  } catch {
    return null;
  }
  if (content === null || typeof content !== "object" || Array.isArray(content)) return null;
  return { content, buffers: [new DataView(data, 4 + length)] };
}

/**
 * Whether `url` is a page socket as the kernel offers it: ws:// on 127.0.0.1, a port, a token.
 * @param {any} url
 * @returns {boolean}
 */
export function rtwIsPageSocketUrl(url) {
  return typeof url === "string" && /^ws:\/\/127\.0\.0\.1:\d{1,5}\/[A-Za-z0-9_-]{16,128}$/.test(url);
}

/**
 * Whether a page at `location` is served from this machine.
 * @param {{hostname: string} | undefined} location
 * @returns {boolean}
 */
export function rtwPageIsLocal(location) {
  return location !== undefined && RTW_LOOPBACK_HOSTS.includes(location.hostname);
}

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
    /** @type {WebSocket | null} the kernel's page socket, open or opening */
    this.socket = null;
    /** whether messages go over the socket (the kernel said `ready`, the comm `socket_switch`) */
    this.viaSocket = false;
    /** whether the kernel's audio path comes over the socket (the comm said `comm_off`) */
    this.commOff = false;
    /** @type {[any, DataView[]][]} the socket's kernel messages that came before `comm_off` */
    this.heldIn = [];
    /** @type {((content: any, buffers: DataView[]) => void) | null} the socket's kernel messages */
    this.onKernel = null;
    this.closed = false;
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
    const socket = this.viaSocket ? this.socket : null;
    if (socket !== null && socket.readyState === RTW_SOCKET_OPEN && buffers === undefined) {
      socket.send(JSON.stringify(content));
    } else if (buffers === undefined || this.dropBuffers) this.model.send(content);
    else this.model.send(content, undefined, buffers);
  }

  /**
   * The kernel offers its page socket: opened when this page is served from this machine
   * and none is open or opening (see the top).
   * @param {string} url
   * @param {{hostname: string} | undefined} [location] this page's (a test's)
   */
  offerSocket(url, location = globalThis.location) {
    // A simulated host that drops buffers (see the top) stands for a remote one: no socket.
    if (this.socket !== null || this.closed || this.dropBuffers || !rtwPageIsLocal(location)) return;
    if (typeof WebSocket !== "function") return;
    let socket;
    try {
      socket = new WebSocket(`${url}?page=${encodeURIComponent(this.id)}`);
    } catch (err) {
      console.info("[realtime_widget] no page socket, messages go by the comm:", err);
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      const data = event.data;
      if (data instanceof ArrayBuffer) {
        const message = rtwUnframe(data);
        if (message !== null) this._fromKernel(message.content, message.buffers);
        return;
      }
      let said = null;
      try {
        said = JSON.parse(String(data));
      } catch {
        return;
      }
      if (said === null || typeof said !== "object" || Array.isArray(said)) return;
      if (said.type !== "ready") this._fromKernel(said, []);
      else if (!this.viaSocket) {
        this.model.send({ type: "socket_switch", id: this.id });
        this.viaSocket = true;
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.viaSocket = false; // back to the comm, both ways
      this.commOff = false;
      this._releaseHeld();
    };
  }

  /**
   * A kernel message from the socket: held until the comm says `comm_off`, so none overtakes
   * what the comm still carries.
   * @param {any} content
   * @param {DataView[]} buffers
   */
  _fromKernel(content, buffers) {
    if (this.commOff) this.onKernel?.(content, buffers);
    else {
      if (this.heldIn.length >= RTW_MAX_HELD_IN) this.heldIn.shift();
      this.heldIn.push([content, buffers]);
    }
  }

  _releaseHeld() {
    const held = this.heldIn;
    this.heldIn = [];
    for (const [content, buffers] of held) this.onKernel?.(content, buffers);
  }

  /**
   * The comm said `comm_off {id}`: for this page, the audio path comes by the socket now.
   * @param {string} id
   */
  commOffCame(id) {
    if (id !== this.id || !this.viaSocket || this.commOff) return;
    this.commOff = true;
    this._releaseHeld();
  }

  /**
   * Whether a kernel message the comm brings is one this page takes from its socket instead.
   * @param {any} content
   * @returns {boolean}
   */
  ignores(content) {
    return this.commOff && content !== null && typeof content === "object" && RTW_AUDIO_PATH.includes(content.type);
  }

  /** Closes the page socket (the session ends). */
  close() {
    this.closed = true;
    const socket = this.socket;
    this.socket = null;
    this.viaSocket = false;
    this.commOff = false;
    this.heldIn = [];
    if (socket !== null) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
    }
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
   * Sends a microphone chunk: over the page socket when messages go there; else as a buffer
   * once buffers are known to reach the kernel, as base64 text otherwise (while probing
   * too: nothing is lost either way).
   * @param {ArrayBuffer} buffer a whole, fresh buffer (see `toArrayBuffer`)
   */
  sendAudio(buffer) {
    const socket = this.viaSocket ? this.socket : null;
    if (socket !== null && socket.readyState === RTW_SOCKET_OPEN) socket.send(buffer);
    else if (this.toKernel === "binary") this.send({ type: "audio" }, [buffer]);
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
