// Fixed-duration chunks of captured audio.
//
// Assembly convention (checked by js/tests/bundle.test.mjs): the js/lib files are
// concatenated into the widget's single ES module with the leading `export ` of each
// top-level declaration removed. So a lib file has no import statements, its top-level
// statements are only `export function` / `export class` / `export const` declarations with
// names unique across js/lib, and it has no top-level side effects. Classes that run inside
// the AudioWorklet are injected there by `String(cls)`: they reference only their own
// parameters, `this`, and JavaScript built-ins.

/**
 * Accumulates PCM16 samples and cuts them into chunks of a fixed duration.
 *
 * The capture worklet receives 128 frames at a time; sending each as its own message would
 * flood the comm and the socket. Chunks of 40-100 ms keep the message rate low (12.5 per
 * second at the default 80 ms) while adding at most one chunk of latency. `flush()` sends the
 * rest at once, e.g. when a push-to-talk button is released.
 *
 * Every chunk returned is a fresh `Int16Array` that owns its whole `ArrayBuffer` (offset 0,
 * byte length = 2 * samples), so `chunk.buffer` can be transferred or sent as is.
 */
export class Chunker {
  /**
   * @param {{chunkMs?: number, sampleRate?: number}} [options] `chunkMs`: chunk duration
   *   in 40..100 ms (80 by default); `sampleRate`: of the samples pushed (24000 by default)
   * @throws {RangeError} when an option is out of range
   */
  constructor(options = {}) {
    const chunkMs = options.chunkMs ?? 80;
    const sampleRate = options.sampleRate ?? 24000;
    if (!(chunkMs >= 40 && chunkMs <= 100)) {
      throw new RangeError(`chunkMs must be in 40..100, got ${chunkMs}`);
    }
    if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
      throw new RangeError(`sampleRate must be a positive integer, got ${sampleRate}`);
    }
    /**
     * Samples per full chunk (1920 = 80 ms at 24 kHz by default).
     * @readonly
     */
    this.chunkSamples = Math.round((chunkMs * sampleRate) / 1000);
    this._pending = new Int16Array(this.chunkSamples);
    this._fill = 0;
    this._emitted = 0;
  }

  /** Samples waiting for the next chunk. */
  get pending() {
    return this._fill;
  }

  /** Samples returned in chunks so far (the offset of the next chunk's first sample). */
  get emitted() {
    return this._emitted;
  }

  /**
   * Adds samples; returns the chunks they completed, oldest first (often none).
   * @param {ArrayLike<number>} samples int16 samples
   * @returns {Int16Array[]} full chunks of `chunkSamples` samples
   */
  push(samples) {
    /** @type {Int16Array[]} */
    const chunks = [];
    const size = this.chunkSamples;
    const n = samples.length;
    let i = 0;
    while (i < n) {
      const take = Math.min(size - this._fill, n - i);
      if (ArrayBuffer.isView(samples)) {
        const src = /** @type {Int16Array} */ (samples);
        this._pending.set(src.subarray(i, i + take), this._fill);
      } else {
        for (let k = 0; k < take; k++) this._pending[this._fill + k] = samples[i + k];
      }
      this._fill += take;
      i += take;
      if (this._fill === size) {
        chunks.push(this._pending);
        this._emitted += size;
        this._pending = new Int16Array(size);
        this._fill = 0;
      }
    }
    return chunks;
  }

  /**
   * Returns the pending samples as a (short) chunk, or `null` when none are pending.
   * @returns {Int16Array | null}
   */
  flush() {
    if (this._fill === 0) return null;
    const chunk = this._pending.slice(0, this._fill);
    this._emitted += this._fill;
    this._fill = 0;
    return chunk;
  }

  /** Drops the pending samples (the count of samples emitted is kept). */
  reset() {
    this._fill = 0;
  }
}
