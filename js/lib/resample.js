// Streaming sample-rate conversion for the capture (mic rate -> 24 kHz) and playback
// (24 kHz -> context rate) paths.
//
// Assembly convention (checked by js/tests/bundle.test.mjs): the js/lib files are
// concatenated into the widget's single ES module with the leading `export ` of each
// top-level declaration removed. So a lib file has no import statements, its top-level
// statements are only `export function` / `export class` / `export const` declarations with
// names unique across js/lib, and it has no top-level side effects. Classes and functions
// that run inside the AudioWorklet are injected there by `String(fn)`: they reference only
// their own parameters, `this`, and JavaScript built-ins.

/**
 * A streaming windowed-sinc resampler between any two integer sample rates.
 *
 * Output frame `n` is the input signal evaluated at input time `n * fromRate / toRate`
 * (input sample 0 at time 0), filtered by a zero-phase Kaiser-windowed sinc whose cutoff is
 * `cutoff * min(fromRate, toRate)` Hz: an anti-aliasing filter when downsampling, an
 * anti-imaging filter when upsampling. The kernel spans `halfWidth` periods of the lower
 * rate on each side of the output position, so
 *
 * - there is no timing offset (no group delay) between input and output positions, but an
 *   output frame can only be computed once the input has reached `lookahead` samples past
 *   its position: that is the latency, `halfWidth` periods of the lower rate (0.67 ms with
 *   the defaults and a 24 kHz side);
 * - the energy of one output frame comes from input samples within `halfWidth` lower-rate
 *   periods of its position.
 *
 * Positions are tracked with integer arithmetic, so the output does not depend on how the
 * input is split into calls: feeding a signal in 128-sample blocks gives bit-identical
 * output to feeding it whole. Input before the first sample is taken as silence.
 *
 * When both rates are equal the resampler is a pass-through (`lookahead` is 0).
 *
 * Usage: `push()` input as it arrives, `read()` up to `available` frames; or `process()`
 * (push then read everything ready). At the end of a stream call `end()` (or `flush()`), after
 * which the frames up to the last input sample's position become available, the kernel's
 * tail reading silence past the end; `end()` produces `ceil(inputCount * toRate / fromRate)`
 * frames in total.
 */
export class StreamResampler {
  /**
   * @param {number} fromRate input sample rate in Hz (a positive integer)
   * @param {number} [toRate] output sample rate in Hz (a positive integer), 24000 by default
   * @param {{halfWidth?: number, cutoff?: number, beta?: number}} [options]
   *   `halfWidth`: kernel half-length in periods of the lower rate (default 16, at least 2);
   *   `cutoff`: cutoff as a fraction of the lower rate (default 0.45, below 0.5);
   *   `beta`: Kaiser window shape (default 8: about 80 dB of stopband rejection).
   * @throws {RangeError} when a rate or option is out of range
   */
  constructor(fromRate, toRate = 24000, options = {}) {
    if (!Number.isInteger(fromRate) || fromRate <= 0) {
      throw new RangeError(`fromRate must be a positive integer, got ${fromRate}`);
    }
    if (!Number.isInteger(toRate) || toRate <= 0) {
      throw new RangeError(`toRate must be a positive integer, got ${toRate}`);
    }
    const halfWidth = options.halfWidth ?? 16;
    const cutoff = options.cutoff ?? 0.45;
    const beta = options.beta ?? 8;
    if (!Number.isInteger(halfWidth) || halfWidth < 2 || halfWidth > 256) {
      throw new RangeError(`halfWidth must be an integer in 2..256, got ${halfWidth}`);
    }
    if (!(cutoff > 0 && cutoff < 0.5)) {
      throw new RangeError(`cutoff must be in (0, 0.5), got ${cutoff}`);
    }
    if (!(beta >= 0 && beta <= 40)) {
      throw new RangeError(`beta must be in 0..40, got ${beta}`);
    }
    /** @readonly */
    this.fromRate = fromRate;
    /** @readonly */
    this.toRate = toRate;

    let x = fromRate;
    let y = toRate;
    while (y !== 0) {
      const t = x % y;
      x = y;
      y = t;
    }
    /** Input step per output frame is `_a / _b` input samples (reduced fraction). */
    this._a = fromRate / x;
    this._b = toRate / x;
    this._bypass = fromRate === toRate;

    // Kernel geometry in input samples: half-length `span`, `taps = 2 * lookahead` per frame.
    const stretch = fromRate / Math.min(fromRate, toRate);
    const span = halfWidth * stretch;
    const lookahead = this._bypass ? 0 : Math.ceil(span);
    /**
     * Input samples needed past an output frame's position before it can be computed.
     * @readonly
     */
    this.lookahead = lookahead;
    this._taps = 2 * lookahead;

    // One coefficient row per phase (fractional position). With a small phase count (every
    // common pair of rates) the rows are exact; otherwise a grid of 1024 phases is linearly
    // interpolated.
    this._exact = this._b <= 2048;
    this._phases = this._exact ? this._b : 1024;
    const rows = this._bypass ? 0 : this._phases + 1;
    this._coeffs = new Float64Array(rows * this._taps);
    if (!this._bypass) {
      const fc = cutoff / stretch; // cycles per input sample
      let i0beta = 1;
      let term = 1;
      for (let k = 1; k < 64; k++) {
        term *= (beta / (2 * k)) * (beta / (2 * k));
        i0beta += term;
        if (term < 1e-17 * i0beta) break;
      }
      for (let p = 0; p < rows; p++) {
        const frac = p / this._phases;
        const row = p * this._taps;
        let sum = 0;
        for (let j = 0; j < this._taps; j++) {
          const d = frac + lookahead - 1 - j;
          let w = 0;
          if (Math.abs(d) < span) {
            const arg = 2 * Math.PI * fc * d;
            const sinc = arg === 0 ? 1 : Math.sin(arg) / arg;
            const r = d / span;
            const z = beta * Math.sqrt(1 - r * r);
            let i0 = 1;
            let t = 1;
            for (let k = 1; k < 64; k++) {
              t *= (z / (2 * k)) * (z / (2 * k));
              i0 += t;
              if (t < 1e-17 * i0) break;
            }
            w = (sinc * i0) / i0beta;
          }
          this._coeffs[row + j] = w;
          sum += w;
        }
        // Unity gain at DC for every phase.
        for (let j = 0; j < this._taps; j++) this._coeffs[row + j] /= sum;
      }
    }
    // Stream state, set by reset(). Input history: `_hist[0]` is absolute input index
    // `_histStart`, `_histLen` samples are valid. The next output frame is at input position
    // `_idx + _num / _b`.
    /** @type {Float32Array} */
    this._hist = new Float32Array(Math.max(1024, 4 * this._taps));
    /** @type {number} */
    this._histStart = 0;
    /** @type {number} */
    this._histLen = 0;
    /** @type {number} */
    this._inCount = 0;
    /** @type {number} */
    this._outCount = 0;
    /** @type {number} */
    this._idx = 0;
    /** @type {number} */
    this._num = 0;
    /** @type {boolean} */
    this._ended = false;
    this.reset();
  }

  /** Forgets all input and output: the next input sample is sample 0 again. */
  reset() {
    const k = this.lookahead;
    this._histStart = -k;
    this._histLen = k; // silence before the first sample
    this._hist.fill(0, 0, k);
    this._inCount = 0;
    this._outCount = 0;
    this._idx = 0;
    this._num = 0;
    this._ended = false;
  }

  /** Input samples pushed so far (excluding the silence `end()` appends). */
  get inputCount() {
    return this._inCount;
  }

  /** Output frames read so far. */
  get outputCount() {
    return this._outCount;
  }

  /** Whether `end()` was called. */
  get ended() {
    return this._ended;
  }

  /** Output frames that `read()` can produce now. */
  get available() {
    const limit = this._ended ? this._inCount : this._inCount - this.lookahead;
    if (limit <= 0) return 0;
    const total = Math.floor((limit * this._b + this._a - 1) / this._a);
    return total - this._outCount;
  }

  /**
   * Appends input samples.
   * @param {ArrayLike<number>} input samples at `fromRate`
   * @throws {Error} after `end()`
   */
  push(input) {
    if (this._ended) throw new Error("push after end of stream");
    this._append(input, input.length);
    this._inCount += input.length;
  }

  /** Marks the end of the input: the remaining frames become available. Idempotent. */
  end() {
    if (this._ended) return;
    this._append(null, this.lookahead);
    this._ended = true;
  }

  /**
   * Writes up to `count` output frames into `out` starting at `offset`.
   * @param {Float32Array} out destination
   * @param {number} [offset] first frame of `out` to write
   * @param {number} [count] frames wanted (defaults to the rest of `out`)
   * @returns {number} frames written: `min(count, available)`
   */
  read(out, offset = 0, count = out.length - offset) {
    const n = Math.max(0, Math.min(count, this.available, out.length - offset));
    const hist = this._hist;
    const a = this._a;
    const b = this._b;
    if (this._bypass) {
      const start = this._idx - this._histStart;
      out.set(hist.subarray(start, start + n), offset);
      this._idx += n;
      this._outCount += n;
      return n;
    }
    const taps = this._taps;
    const coeffs = this._coeffs;
    const back = this.lookahead - 1;
    let idx = this._idx;
    let num = this._num;
    for (let i = 0; i < n; i++) {
      const base = idx - back - this._histStart;
      let acc = 0;
      if (this._exact) {
        const row = num * taps;
        for (let j = 0; j < taps; j++) acc += hist[base + j] * coeffs[row + j];
      } else {
        const pos = (num * this._phases) / b;
        const p0 = Math.floor(pos);
        const t = pos - p0;
        const r0 = p0 * taps;
        const r1 = r0 + taps;
        for (let j = 0; j < taps; j++) {
          const c = coeffs[r0 + j] + t * (coeffs[r1 + j] - coeffs[r0 + j]);
          acc += hist[base + j] * c;
        }
      }
      out[offset + i] = acc;
      num += a;
      if (num >= b) {
        const q = Math.floor(num / b);
        idx += q;
        num -= q * b;
      }
    }
    this._idx = idx;
    this._num = num;
    this._outCount += n;
    return n;
  }

  /**
   * Pushes `input` and returns every frame that became available.
   * @param {ArrayLike<number>} input
   * @returns {Float32Array}
   */
  process(input) {
    this.push(input);
    const out = new Float32Array(this.available);
    this.read(out);
    return out;
  }

  /**
   * Ends the stream and returns the remaining frames.
   * @returns {Float32Array}
   */
  flush() {
    this.end();
    const out = new Float32Array(this.available);
    this.read(out);
    return out;
  }

  /**
   * Appends `count` samples of `input` (or silence when `input` is null) to the history,
   * first dropping samples no future frame needs.
   * @param {ArrayLike<number> | null} input
   * @param {number} count
   */
  _append(input, count) {
    const keepFrom = this._bypass ? this._idx : this._idx - this.lookahead + 1;
    const drop = keepFrom - this._histStart;
    if (drop > 0) {
      this._hist.copyWithin(0, drop, this._histLen);
      this._histStart += drop;
      this._histLen -= drop;
    }
    const need = this._histLen + count;
    if (need > this._hist.length) {
      const grown = new Float32Array(Math.max(need, 2 * this._hist.length));
      grown.set(this._hist.subarray(0, this._histLen));
      this._hist = grown;
    }
    if (input === null) {
      this._hist.fill(0, this._histLen, need);
    } else if (ArrayBuffer.isView(input)) {
      this._hist.set(/** @type {Float32Array} */ (input), this._histLen);
    } else {
      for (let i = 0; i < count; i++) this._hist[this._histLen + i] = input[i];
    }
    this._histLen = need;
  }
}
