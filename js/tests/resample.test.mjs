import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { StreamResampler } from "../lib/resample.js";
import { concat, db, rms, tone, toneAmplitude } from "./signals.mjs";

/**
 * Resamples `x` the way the capture worklet does: 128 samples per call.
 * @param {StreamResampler} r
 * @param {Float32Array} x
 * @param {number} [block]
 */
function inBlocks(r, x, block = 128) {
  const parts = [];
  for (let i = 0; i < x.length; i += block) parts.push(r.process(x.subarray(i, i + block)));
  return concat(parts);
}

/**
 * Gain in dB of a tone after resampling, measured on the steady-state part (the first and
 * last 50 ms are skipped).
 * @param {number} from
 * @param {number} to
 * @param {number} freq
 * @returns {number}
 */
function toneGainDb(from, to, freq) {
  const x = tone(freq, from, from, 0.5);
  const y = inBlocks(new StreamResampler(from, to), x);
  const edge = Math.round(to * 0.05);
  if (freq < to / 2) {
    // Whole periods of a 1 kHz tone: a multiple of `to / 1000` samples.
    const period = to / 1000;
    const end = edge + Math.floor((y.length - 2 * edge) / period) * period;
    return db(toneAmplitude(y, freq, to, edge, end), 0.5);
  }
  // Above the output Nyquist the tone cannot pass: whatever comes out (its alias, leakage)
  // counts against the filter.
  return db(rms(y, edge, y.length - edge) * Math.SQRT2, 0.5);
}

describe("StreamResampler frequency response", () => {
  for (const from of [48000, 44100, 96000, 32000, 16000, 22050]) {
    it(`keeps a 1 kHz tone within 0.5 dB from ${from} Hz to 24 kHz`, () => {
      const gain = toneGainDb(from, 24000, 1000);
      assert.ok(Math.abs(gain) < 0.5, `gain ${gain.toFixed(3)} dB`);
    });
  }

  for (const [from, freq] of [
    [48000, 15000],
    [44100, 18000],
    [48000, 20000],
    [44100, 13000],
    [96000, 40000],
  ]) {
    it(`attenuates ${freq} Hz at ${from} Hz by at least 40 dB`, () => {
      const gain = toneGainDb(from, 24000, freq);
      assert.ok(gain <= -40, `gain ${gain.toFixed(1)} dB`);
    });
  }

  it("is flat through 8 kHz and -6 dB at the cutoff (0.45 x 24 kHz)", () => {
    for (const freq of [300, 3000, 8000]) {
      const x = tone(freq, 48000, 48000);
      const y = new StreamResampler(48000).process(x);
      const gain = db(toneAmplitude(y, freq, 24000, 1200, 22800), 0.5);
      assert.ok(Math.abs(gain) < 0.1, `${freq} Hz: ${gain.toFixed(3)} dB`);
    }
    const x = tone(10800, 48000, 48000);
    const y = new StreamResampler(48000).process(x);
    const gain = db(toneAmplitude(y, 10800, 24000, 1200, 22800), 0.5);
    assert.ok(gain < -5 && gain > -7, `cutoff gain ${gain.toFixed(2)} dB`);
  });

  for (const to of [48000, 44100]) {
    it(`upsamples 24 kHz to ${to} Hz with images and error below -60 dB`, () => {
      // Compare with the ideal tone at the output rate: any image, ripple or timing error
      // shows up in the residual.
      const freq = 1000;
      const y = inBlocks(new StreamResampler(24000, to), tone(freq, 24000, 24000));
      const ideal = tone(freq, to, y.length);
      const edge = Math.round(to * 0.05);
      const residual = new Float32Array(y.length);
      for (let i = 0; i < y.length; i++) residual[i] = y[i] - ideal[i];
      const level = db(rms(residual, edge, y.length - edge), rms(ideal, edge, y.length - edge));
      assert.ok(level < -60, `residual ${level.toFixed(1)} dB`);
    });
  }
});

describe("StreamResampler streaming", () => {
  /** Noise plus a chirp, so every phase and frequency is exercised. */
  function testSignal(rate, seconds) {
    const n = Math.round(rate * seconds);
    const x = new Float32Array(n);
    let seed = 12345;
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const t = i / rate;
      x[i] = 0.4 * Math.sin(2 * Math.PI * (200 + 4000 * t) * t) + 0.2 * (seed / 2147483648 - 0.5);
    }
    return x;
  }

  for (const [from, to] of [
    [48000, 24000],
    [44100, 24000],
    [96000, 24000],
    [16000, 24000],
    [24000, 48000],
    [24000, 44100],
    [24000, 24000],
    [44099, 24000],
  ]) {
    it(`gives the same output in 128-sample blocks as whole (${from} -> ${to})`, () => {
      const x = testSignal(from, 1.3);
      const whole = new StreamResampler(from, to);
      const a = concat([whole.process(x), whole.flush()]);
      const blocks = new StreamResampler(from, to);
      const b = concat([inBlocks(blocks, x), blocks.flush()]);
      assert.equal(b.length, a.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      assert.ok(worst <= 1e-6, `max difference ${worst}`);
    });
  }

  it("gives the same output for irregular block sizes", () => {
    const x = testSignal(44100, 0.5);
    const whole = new StreamResampler(44100).process(x);
    const r = new StreamResampler(44100);
    const parts = [];
    let i = 0;
    for (const size of [1, 2, 3, 500, 7, 128, 1000, 33]) {
      parts.push(r.process(x.subarray(i, i + size)));
      i += size;
    }
    parts.push(r.process(x.subarray(i)));
    const y = concat(parts);
    assert.deepEqual(y, whole);
  });

  for (const [from, to] of [
    [48000, 24000],
    [44100, 24000],
    [24000, 44100],
    [24000, 24000],
  ]) {
    it(`produces ceil(n * to / from) frames in all and holds back only the lookahead (${from} -> ${to})`, () => {
      const n = 10007;
      const r = new StreamResampler(from, to);
      const early = r.process(new Float32Array(n).fill(0.25));
      // Before the end, frame k needs input up to k * from / to + lookahead.
      const ready = Math.max(0, Math.ceil(((n - r.lookahead) * to) / from));
      assert.equal(early.length, ready);
      const rest = r.flush();
      assert.equal(early.length + rest.length, Math.ceil((n * to) / from));
      assert.equal(r.available, 0);
      assert.deepEqual(r.flush(), new Float32Array(0));
    });
  }

  it("passes DC with unity gain", () => {
    for (const [from, to] of [
      [44100, 24000],
      [24000, 44100],
      [48000, 24000],
      [44099, 24000],
    ]) {
      const y = new StreamResampler(from, to).process(new Float32Array(from).fill(0.5));
      for (let i = 100; i < y.length; i++) {
        assert.ok(Math.abs(y[i] - 0.5) < 1e-6, `${from}->${to} frame ${i}: ${y[i]}`);
      }
    }
  });

  it("has no timing offset: an impulse at input time t peaks at output time t", () => {
    for (const [from, to, at] of [
      [48000, 24000, 4800],
      [44100, 24000, 44100],
      [24000, 48000, 2400],
      [24000, 44100, 2400],
    ]) {
      const x = new Float32Array(2 * at);
      x[at] = 1;
      const y = new StreamResampler(from, to).process(x);
      let peak = 0;
      for (let i = 1; i < y.length; i++) if (y[i] > y[peak]) peak = i;
      const expected = (at * to) / from;
      assert.ok(Math.abs(peak - expected) <= 0.5, `${from}->${to}: peak ${peak}, expected ${expected}`);
    }
  });

  it("reports its lookahead: 16 periods of the lower rate", () => {
    assert.equal(new StreamResampler(48000).lookahead, 32);
    assert.equal(new StreamResampler(44100).lookahead, 30);
    assert.equal(new StreamResampler(24000, 48000).lookahead, 16);
    assert.equal(new StreamResampler(24000).lookahead, 0);
  });

  it("refuses input after the end and bad arguments", () => {
    const r = new StreamResampler(48000);
    r.end();
    assert.throws(() => r.push(new Float32Array(4)), /push after end/);
    assert.throws(() => new StreamResampler(0), RangeError);
    assert.throws(() => new StreamResampler(44100.5), RangeError);
    assert.throws(() => new StreamResampler(48000, -1), RangeError);
    assert.throws(() => new StreamResampler(48000, 24000, { cutoff: 0.5 }), RangeError);
    assert.throws(() => new StreamResampler(48000, 24000, { halfWidth: 1 }), RangeError);
  });

  it("starts over after reset", () => {
    const x = testSignal(44100, 0.2);
    const r = new StreamResampler(44100);
    const first = r.process(x);
    r.reset();
    assert.deepEqual(r.process(x), first);
  });
});
