import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { dbfs, floatToPcm16, fromBuffer, pcm16ToFloat, rmsLevel, toArrayBuffer } from "../lib/pcm.js";
import { tone } from "./signals.mjs";

describe("floatToPcm16", () => {
  it("scales by 32768, rounds, clips, and turns NaN into 0", () => {
    const input = [0, 0.5, -0.5, 1, -1, 1.5, -1.5, Number.NaN, Infinity, -Infinity, 1e-6, 0.25 / 32768];
    assert.deepEqual(
      floatToPcm16(input),
      Int16Array.from([0, 16384, -16384, 32767, -32768, 32767, -32768, 0, 32767, -32768, 0, 0]),
    );
  });

  it("writes into a given array and refuses a short one", () => {
    const out = new Int16Array(4);
    assert.equal(floatToPcm16([0.5, -0.5], out), out);
    assert.deepEqual(out, Int16Array.from([16384, -16384, 0, 0]));
    assert.throws(() => floatToPcm16(new Float32Array(5), out), RangeError);
  });
});

describe("pcm16ToFloat", () => {
  it("round-trips every int16 value exactly", () => {
    const all = new Int16Array(65536);
    for (let i = 0; i < 65536; i++) all[i] = i - 32768;
    const floats = pcm16ToFloat(all);
    assert.equal(floats[0], -1);
    assert.equal(floats[65535], 32767 / 32768);
    assert.deepEqual(floatToPcm16(floats), all);
  });

  it("float -> pcm16 -> float is within half a step", () => {
    const x = tone(440, 24000, 2400, 0.9);
    const back = pcm16ToFloat(floatToPcm16(x));
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) <= 0.5 / 32768 + 1e-9);
  });
});

describe("toArrayBuffer", () => {
  it("copies exactly the bytes of an offset view into a fresh buffer", () => {
    const whole = Int16Array.from([1, 2, 3, 4, 5, 6]);
    const view = whole.subarray(2, 5);
    const buffer = toArrayBuffer(view);
    assert.equal(buffer.byteLength, 6);
    assert.notEqual(buffer, whole.buffer);
    assert.deepEqual(new Int16Array(buffer), Int16Array.from([3, 4, 5]));
    whole[2] = 99;
    assert.equal(new Int16Array(buffer)[0], 3, "the copy must not share memory");
  });

  it("copies a whole array and a DataView too", () => {
    const whole = Int16Array.from([7, -8]);
    const copy = toArrayBuffer(whole);
    assert.notEqual(copy, whole.buffer);
    assert.deepEqual(new Int16Array(copy), whole);
    const bytes = Uint8Array.from([0, 1, 2, 3, 4, 5]);
    const dv = new DataView(bytes.buffer, 1, 4);
    assert.deepEqual(new Uint8Array(toArrayBuffer(dv)), Uint8Array.from([1, 2, 3, 4]));
    assert.throws(() => toArrayBuffer(/** @type {any} */ ([1, 2])), TypeError);
  });
});

describe("fromBuffer", () => {
  it("reads an ArrayBuffer", () => {
    const samples = Int16Array.from([1, -2, 32767, -32768]);
    assert.deepEqual(fromBuffer(samples.buffer), samples);
  });

  it("respects a DataView's offset and length (as the comm delivers buffers)", () => {
    const samples = Int16Array.from([10, 20, 30, 40, 50]);
    const dv = new DataView(samples.buffer, 2, 6);
    const got = fromBuffer(dv);
    assert.deepEqual(got, Int16Array.from([20, 30, 40]));
    assert.equal(got.buffer, samples.buffer, "aligned data is not copied");
  });

  it("copies data at an odd byte offset, little-endian", () => {
    const bytes = Uint8Array.from([0xff, 0x34, 0x12, 0xfe, 0xff]);
    const got = fromBuffer(new DataView(bytes.buffer, 1, 4));
    assert.deepEqual(got, Int16Array.from([0x1234, -2]));
    assert.equal(fromBuffer(bytes.subarray(1)).length, 2);
  });

  it("refuses an odd byte length and non-binary input", () => {
    assert.throws(() => fromBuffer(new ArrayBuffer(7)), /even byte length, got 7/);
    assert.throws(() => fromBuffer(new DataView(new ArrayBuffer(8), 1, 3)), RangeError);
    assert.throws(() => fromBuffer(/** @type {any} */ ("abcd")), TypeError);
  });
});

describe("rmsLevel and dbfs", () => {
  it("measures floats and int16 on the same 0..1 scale", () => {
    const sine = tone(1000, 48000, 4800, 1);
    assert.ok(Math.abs(rmsLevel(sine) - Math.SQRT1_2) < 1e-6);
    const half = tone(1000, 48000, 4800, 0.5);
    assert.ok(Math.abs(rmsLevel(floatToPcm16(half)) - rmsLevel(half)) < 1e-4);
    assert.equal(rmsLevel(new Int16Array(16).fill(-32768)), 1);
    assert.equal(rmsLevel(new Float32Array(8).fill(3)), 1, "clipped at full scale");
    assert.equal(rmsLevel(new Float32Array(0)), 0);
    assert.equal(rmsLevel(new Float32Array(10)), 0);
  });

  it("converts to dB full scale with a floor", () => {
    assert.equal(dbfs(1), 0);
    assert.ok(Math.abs(dbfs(0.5) + 6.0206) < 1e-4);
    assert.equal(dbfs(0), -100);
    assert.equal(dbfs(1e-9), -100);
    assert.equal(dbfs(0, -60), -60);
    assert.equal(dbfs(Number.NaN), -100);
  });
});
