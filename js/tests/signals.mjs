// Signal generators and measurements shared by the js tests (not a test file itself).

/**
 * A sine tone.
 * @param {number} freq Hz
 * @param {number} rate samples per second
 * @param {number} samples length
 * @param {number} [amplitude]
 * @returns {Float32Array}
 */
export function tone(freq, rate, samples, amplitude = 0.5) {
  const x = new Float32Array(samples);
  for (let i = 0; i < samples; i++) x[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / rate);
  return x;
}

/**
 * Amplitude of the component at `freq` in `y[start, end)`, by projection on sin and cos.
 * Exact for a pure tone when the window holds a whole number of periods.
 * @param {ArrayLike<number>} y
 * @param {number} freq Hz
 * @param {number} rate samples per second of `y`
 * @param {number} start
 * @param {number} end
 * @returns {number}
 */
export function toneAmplitude(y, freq, rate, start, end) {
  let c = 0;
  let s = 0;
  for (let i = start; i < end; i++) {
    const w = (2 * Math.PI * freq * i) / rate;
    c += y[i] * Math.cos(w);
    s += y[i] * Math.sin(w);
  }
  const n = end - start;
  return (2 * Math.hypot(c, s)) / n;
}

/**
 * Root mean square of `y[start, end)`.
 * @param {ArrayLike<number>} y
 * @param {number} start
 * @param {number} end
 * @returns {number}
 */
export function rms(y, start = 0, end = y.length) {
  let sum = 0;
  for (let i = start; i < end; i++) sum += y[i] * y[i];
  return Math.sqrt(sum / (end - start));
}

/**
 * Concatenates float arrays.
 * @param {Float32Array[]} parts
 * @returns {Float32Array}
 */
export function concat(parts) {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Gain in dB.
 * @param {number} out
 * @param {number} input
 * @returns {number}
 */
export function db(out, input) {
  return 20 * Math.log10(out / input);
}
