// PCM16 conversions, wire buffers and levels.
//
// Assembly convention (checked by js/tests/bundle.test.mjs): the js/lib files are
// concatenated into the widget's single ES module with the leading `export ` of each
// top-level declaration removed. So a lib file has no import statements, its top-level
// statements are only `export function` / `export class` / `export const` declarations with
// names unique across js/lib, and it has no top-level side effects. Functions that run inside
// the AudioWorklet are injected there by `String(fn)`: they reference only their own
// parameters and JavaScript built-ins.
//
// PCM16 here is the wire format of the Realtime API: signed 16-bit little-endian mono. Typed
// arrays use the platform's byte order, which is little-endian in every browser engine.
// Scaling is symmetric (x * 32768, clipped to 32767), so int16 -> float -> int16 is exact.

/**
 * Converts float samples to PCM16: clipped to [-1, 1), rounded, NaN as 0.
 * @param {ArrayLike<number>} input float samples, nominally in [-1, 1]
 * @param {Int16Array} [out] destination of at least `input.length` samples; a new array
 *   when omitted
 * @returns {Int16Array} `out` (or the new array), `input.length` samples written
 */
export function floatToPcm16(input, out) {
  const n = input.length;
  const dest = out ?? new Int16Array(n);
  if (dest.length < n) {
    throw new RangeError(`output holds ${dest.length} samples, ${n} needed`);
  }
  for (let i = 0; i < n; i++) {
    const v = Math.round(input[i] * 32768);
    // NaN fails both comparisons and the `v === v` test: it becomes 0.
    dest[i] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : v === v ? v : 0;
  }
  return dest;
}

/**
 * Converts PCM16 samples to floats in [-1, 1).
 * @param {ArrayLike<number>} input int16 samples
 * @param {Float32Array} [out] destination of at least `input.length` samples; a new array
 *   when omitted
 * @returns {Float32Array}
 */
export function pcm16ToFloat(input, out) {
  const n = input.length;
  const dest = out ?? new Float32Array(n);
  if (dest.length < n) {
    throw new RangeError(`output holds ${dest.length} samples, ${n} needed`);
  }
  for (let i = 0; i < n; i++) dest[i] = input[i] / 32768;
  return dest;
}

/**
 * Copies exactly the bytes a view covers into a new `ArrayBuffer`.
 *
 * Use it for every buffer handed to the widget comm (`model.send(msg, [buffer])`): the comm
 * sends a typed array's whole backing buffer and ignores its offset and length, so a
 * `subarray` view would send the wrong audio.
 * @param {ArrayBufferView} view
 * @returns {ArrayBuffer} a fresh buffer of `view.byteLength` bytes, never shared with `view`
 */
export function toArrayBuffer(view) {
  if (!ArrayBuffer.isView(view)) {
    throw new TypeError(`expected a typed array or DataView, got ${Object.prototype.toString.call(view)}`);
  }
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return bytes.slice().buffer;
}

/**
 * Reads PCM16 samples from a binary buffer as it arrives from the widget comm (a `DataView`,
 * possibly with an offset) or a worklet port (an `ArrayBuffer`).
 *
 * Shares memory with the input when the data is 2-byte aligned; copies it otherwise.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {Int16Array} exactly the samples in the bytes `data` covers
 * @throws {RangeError} when the byte length is odd
 * @throws {TypeError} when `data` is not binary
 */
export function fromBuffer(data) {
  let buffer;
  let offset = 0;
  let length;
  if (ArrayBuffer.isView(data)) {
    buffer = data.buffer;
    offset = data.byteOffset;
    length = data.byteLength;
  } else if (Object.prototype.toString.call(data) === "[object ArrayBuffer]") {
    buffer = /** @type {ArrayBuffer} */ (data);
    length = buffer.byteLength;
  } else {
    throw new TypeError(`expected binary audio, got ${Object.prototype.toString.call(data)}`);
  }
  if (length % 2 !== 0) {
    throw new RangeError(`pcm16 audio must have an even byte length, got ${length}`);
  }
  if (offset % 2 === 0) return new Int16Array(buffer, offset, length / 2);
  const copy = new Uint8Array(buffer, offset, length).slice();
  return new Int16Array(copy.buffer);
}

/**
 * Root-mean-square level of a block, on a 0..1 scale where 1 is full scale (int16 samples
 * are scaled by 1/32768). An empty block has level 0.
 * @param {Float32Array | Int16Array} samples
 * @returns {number}
 */
export function rmsLevel(samples) {
  const n = samples.length;
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += samples[i] * samples[i];
  const scale = samples.BYTES_PER_ELEMENT === 2 ? 1 / 32768 : 1;
  const rms = Math.sqrt(sum / n) * scale;
  return rms > 1 ? 1 : rms;
}

/**
 * A level in decibels relative to full scale.
 * @param {number} level linear level, 1 = full scale (e.g. from `rmsLevel`)
 * @param {number} [floor] lowest value returned (-100 dB by default), also for silence
 * @returns {number}
 */
export function dbfs(level, floor = -100) {
  if (!(level > 0)) return floor;
  const db = 20 * Math.log10(level);
  return db < floor ? floor : db;
}
