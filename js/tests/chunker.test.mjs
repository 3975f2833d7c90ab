import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Chunker } from "../lib/chunker.js";

/** Int16 samples counting up from `start`, wrapping at 32768. */
function ramp(start, n) {
  const x = new Int16Array(n);
  for (let i = 0; i < n; i++) x[i] = (start + i) % 32768;
  return x;
}

describe("Chunker", () => {
  it("cuts 80 ms chunks (1920 samples at 24 kHz) by default", () => {
    assert.equal(new Chunker().chunkSamples, 1920);
    assert.equal(new Chunker({ chunkMs: 40 }).chunkSamples, 960);
    assert.equal(new Chunker({ chunkMs: 100 }).chunkSamples, 2400);
    assert.equal(new Chunker({ chunkMs: 50, sampleRate: 16000 }).chunkSamples, 800);
  });

  it("refuses durations outside 40..100 ms", () => {
    for (const chunkMs of [39, 101, 0, Number.NaN]) {
      assert.throws(() => new Chunker({ chunkMs }), RangeError, `chunkMs ${chunkMs}`);
    }
    assert.throws(() => new Chunker({ sampleRate: 0 }), RangeError);
  });

  it("emits continuous full chunks from 128-sample pushes and keeps the rest", () => {
    const c = new Chunker();
    const total = 3 * 1920 + 500;
    const chunks = [];
    for (let i = 0; i < total; i += 128) chunks.push(...c.push(ramp(i, Math.min(128, total - i))));
    assert.equal(chunks.length, 3);
    chunks.forEach((chunk, k) => assert.deepEqual(chunk, ramp(k * 1920, 1920)));
    assert.equal(c.pending, 500);
    assert.equal(c.emitted, 3 * 1920);
  });

  it("emits several chunks from one large push", () => {
    const c = new Chunker({ chunkMs: 40 });
    const chunks = c.push(ramp(0, 960 * 4 + 1));
    assert.deepEqual(
      chunks.map((x) => x.length),
      [960, 960, 960, 960],
    );
    assert.deepEqual(chunks[3], ramp(2880, 960));
    assert.equal(c.pending, 1);
  });

  it("gives every chunk its own whole buffer", () => {
    const c = new Chunker({ chunkMs: 40 });
    const chunks = c.push(ramp(0, 960 * 2 + 10));
    const tail = c.flush();
    assert.ok(tail !== null);
    for (const chunk of [...chunks, tail]) {
      assert.equal(chunk.byteOffset, 0);
      assert.equal(chunk.buffer.byteLength, chunk.byteLength);
    }
    assert.notEqual(chunks[0].buffer, chunks[1].buffer);
    c.push(new Int16Array(2000).fill(-1));
    assert.deepEqual(chunks[1], ramp(960, 960), "later pushes leave emitted chunks alone");
    assert.deepEqual(tail, ramp(1920, 10));
  });

  it("flushes the pending samples once (push-to-talk release)", () => {
    const c = new Chunker();
    c.push(ramp(0, 2000));
    const tail = c.flush();
    assert.deepEqual(tail, ramp(1920, 80));
    assert.equal(c.emitted, 2000);
    assert.equal(c.flush(), null);
    assert.deepEqual(c.push(ramp(0, 1920))[0], ramp(0, 1920), "chunking restarts cleanly");
  });

  it("drops the pending samples on reset and accepts plain arrays", () => {
    const c = new Chunker({ chunkMs: 40 });
    c.push([1, 2, 3]);
    c.reset();
    assert.equal(c.pending, 0);
    assert.equal(c.flush(), null);
    assert.equal(c.emitted, 0);
  });
});
