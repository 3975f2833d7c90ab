import assert from "node:assert/strict";
import { describe, it } from "node:test";
import vm from "node:vm";

import { Chunker } from "../lib/chunker.js";
import { floatToPcm16, fromBuffer, rmsLevel } from "../lib/pcm.js";
import { JitterPlayer } from "../lib/player.js";
import { StreamResampler } from "../lib/resample.js";
import {
  CAPTURE_HELPERS,
  PLAYBACK_HELPERS,
  audioWorkletSource,
  captureWorkletSource,
  playbackWorkletSource,
} from "../lib/worklets.js";
import { db, tone, toneAmplitude } from "./signals.mjs";
import { evaluateWorklet } from "./worklet-scope.mjs";

const helpers = { StreamResampler, Chunker, JitterPlayer, floatToPcm16, fromBuffer, rmsLevel };

/**
 * Runs `process()` over `seconds` of input in 128-frame blocks.
 * @param {any} processor
 * @param {Float32Array[]} channels input channels at the worklet rate
 */
function feed(processor, channels) {
  const frames = channels[0].length;
  for (let i = 0; i < frames; i += 128) {
    const block = channels.map((ch) => ch.subarray(i, i + 128));
    assert.equal(processor.process([block], [[]], {}), true);
  }
}

/** Concatenates the PCM16 chunks a capture processor posted. */
function chunkSamples(port) {
  const chunks = port.ofType("chunk").map((p) => new Int16Array(p.message.buffer));
  const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

describe("worklet sources", () => {
  it("parse as scripts and register the expected processors", () => {
    for (const [source, names] of [
      [captureWorkletSource(helpers), ["rtw-capture"]],
      [playbackWorkletSource(helpers), ["rtw-playback"]],
      [audioWorkletSource(helpers), ["rtw-capture", "rtw-playback"]],
    ]) {
      assert.doesNotThrow(() => new vm.Script(source));
      const scope = evaluateWorklet(source, 48000);
      assert.deepEqual([...scope.registry.keys()], names);
    }
  });

  it("include only the helpers they need", () => {
    const capture = captureWorkletSource(helpers);
    for (const name of CAPTURE_HELPERS) assert.match(capture, new RegExp(`(class|function) ${name}\\b`));
    assert.doesNotMatch(capture, /class JitterPlayer\b/);
    const playback = playbackWorkletSource(helpers);
    for (const name of PLAYBACK_HELPERS) assert.match(playback, new RegExp(`(class|function) ${name}\\b`));
    assert.doesNotMatch(playback, /class Chunker\b/);
  });

  it("refuse missing helpers and helpers that are not declarations", () => {
    const { Chunker: _dropped, ...missing } = helpers;
    assert.throws(() => captureWorkletSource(missing), /worklet helper Chunker is missing/);
    const wrapped = { ...helpers, rmsLevel: (x) => rmsLevel(x) };
    assert.throws(() => captureWorkletSource(wrapped), /rmsLevel is not a plain class or function/);
  });

  it("tolerate a second addModule() in the same context", () => {
    const source = audioWorkletSource(helpers);
    const first = evaluateWorklet(source, 44100);
    assert.doesNotThrow(() => evaluateWorklet(source, 44100, first.registry));
  });
});

describe("rtw-capture", () => {
  it("mixes the 44.1 kHz stereo mic down and posts 80 ms PCM16 chunks at 24 kHz", () => {
    const scope = evaluateWorklet(captureWorkletSource(helpers), 44100);
    const processor = scope.create("rtw-capture", { processorOptions: {} });
    const left = tone(1000, 44100, 44100, 0.6);
    const right = tone(1000, 44100, 44100, 0.4);
    feed(processor, [left, right]);

    const chunks = processor.port.ofType("chunk");
    // One second in, less the resampler's lookahead: 12 full chunks of 1920 samples.
    assert.equal(chunks.length, 12);
    chunks.forEach(({ message, transferred, detached }, k) => {
      assert.equal(message.buffer.byteLength, 3840);
      assert.equal(message.samples, 1920);
      assert.equal(message.offset, k * 1920);
      assert.equal(transferred, 1);
      assert.ok(detached, "the chunk's buffer is transferred, not copied");
    });
    const pcm = chunkSamples(processor.port);
    const floats = Float32Array.from(pcm, (v) => v / 32768);
    // (0.6 + 0.4) / 2 = 0.5 after the mix-down.
    const gain = db(toneAmplitude(floats, 1000, 24000, 1200, 22800), 0.5);
    assert.ok(Math.abs(gain) < 0.5, `gain ${gain.toFixed(3)} dB`);

    const levels = processor.port.ofType("level").map((p) => p.message.rms);
    assert.ok(levels.length >= 19 && levels.length <= 21, `${levels.length} level messages`);
    assert.ok(Math.abs(levels[3] - 0.5 * Math.SQRT1_2) < 1e-3, `level ${levels[3]}`);
  });

  it("averages the channels (opposite phases cancel)", () => {
    const scope = evaluateWorklet(captureWorkletSource(helpers), 44100);
    const processor = scope.create("rtw-capture");
    feed(processor, [tone(440, 44100, 22050, 0.5), tone(440, 44100, 22050, -0.5)]);
    const pcm = chunkSamples(processor.port);
    assert.ok(pcm.length > 0);
    assert.ok(pcm.every((v) => v === 0));
  });

  it("passes 24 kHz mono through and honours chunkMs", () => {
    const scope = evaluateWorklet(captureWorkletSource(helpers), 24000);
    const processor = scope.create("rtw-capture", { processorOptions: { chunkMs: 40 } });
    const x = tone(300, 24000, 4800, 0.25);
    feed(processor, [x]);
    const chunks = processor.port.ofType("chunk");
    assert.deepEqual(
      chunks.map((c) => c.message.samples),
      [960, 960, 960, 960, 960],
    );
    assert.deepEqual(chunkSamples(processor.port), floatToPcm16(x));
  });

  it("flushes the pending samples on request, then reports the offset", () => {
    const scope = evaluateWorklet(captureWorkletSource(helpers), 48000);
    const processor = scope.create("rtw-capture");
    feed(processor, [new Float32Array(128 * 40).fill(0.1)]);
    const before = processor.port.ofType("chunk").length;
    processor.port.send({ type: "flush" });
    const chunks = processor.port.ofType("chunk");
    assert.equal(chunks.length, before + 1);
    const tail = chunks.at(-1).message;
    assert.equal(tail.offset, before * 1920);
    assert.equal(tail.buffer.byteLength, tail.samples * 2);
    const total = before * 1920 + tail.samples;
    // 40 blocks at 48 kHz give 2560 frames at 24 kHz, less the 16-frame lookahead.
    assert.equal(total, 2560 - 16);
    assert.deepEqual(processor.port.posted.at(-1).message, { type: "flushed", offset: total });
  });

  it("idles without input, reports unknown messages, and stops on close", () => {
    const scope = evaluateWorklet(captureWorkletSource(helpers), 48000);
    const processor = scope.create("rtw-capture");
    assert.equal(processor.process([[]], [[]], {}), true);
    assert.equal(processor.process([], [[]], {}), true);
    assert.equal(processor.port.posted.length, 0);
    processor.port.send({ type: "bogus" });
    assert.equal(processor.port.posted.at(-1).message.type, "error");
    processor.port.send({ type: "close" });
    assert.equal(processor.process([[new Float32Array(128)]], [[]], {}), false);
  });
});

describe("rtw-playback", () => {
  /**
   * Renders `blocks` blocks into a stereo output; returns channel 0.
   * @param {any} processor
   * @param {number} blocks
   */
  function play(processor, blocks) {
    const out = new Float32Array(blocks * 128);
    for (let b = 0; b < blocks; b++) {
      const left = new Float32Array(128);
      const right = new Float32Array(128).fill(9);
      assert.equal(processor.process([], [[left, right]], {}), true);
      assert.deepEqual(right, left, "every output channel gets the same audio");
      out.set(left, b * 128);
    }
    return out;
  }

  it("plays pushed items at the context rate and reports played samples", () => {
    const scope = evaluateWorklet(playbackWorkletSource(helpers), 48000);
    const processor = scope.create("rtw-playback", { processorOptions: { prebufferMs: 60 } });
    const samples = floatToPcm16(tone(1000, 24000, 12000, 0.5));
    processor.port.send({ type: "push", itemId: "item_1", buffer: samples.buffer });
    processor.port.send({ type: "done", itemId: "item_1" });
    const out = play(processor, 200);
    const gain = db(toneAmplitude(out, 1000, 48000, 480, 23520), 0.5);
    assert.ok(Math.abs(gain) < 0.1, `gain ${gain.toFixed(3)} dB`);

    const messages = processor.port.posted.map((p) => p.message);
    assert.deepEqual(messages[0], { type: "started", itemId: "item_1", frame: 0 });
    const finished = messages.filter((m) => m.type === "finished");
    assert.deepEqual(finished, [{ type: "finished", itemId: "item_1", playedSamples: 12000 }]);
    const played = messages.filter((m) => m.type === "played").map((m) => m.playedSamples);
    assert.ok(played.length >= 10, `${played.length} played messages`);
    assert.equal(played.at(-1), 12000);
    assert.ok(messages.some((m) => m.type === "level" && m.rms > 0.3));
  });

  it("answers interrupt with the item and the samples played, then goes silent", () => {
    const scope = evaluateWorklet(playbackWorkletSource(helpers), 44100);
    const processor = scope.create("rtw-playback");
    const samples = new Int16Array(48000).fill(4000);
    // The comm delivers DataViews, possibly at an offset into a larger buffer.
    const framed = new Int16Array(samples.length + 2);
    framed.set(samples, 1);
    processor.port.send({
      type: "push",
      itemId: "item_2",
      buffer: new DataView(framed.buffer, 2, samples.byteLength),
    });
    play(processor, 100);
    processor.port.send({ type: "interrupt" });
    const reply = processor.port.posted.at(-1).message;
    assert.deepEqual(reply, {
      type: "interrupted",
      itemId: "item_2",
      playedSamples: Math.floor((100 * 128 * 24000) / 44100),
    });
    assert.ok(play(processor, 4).every((v) => v === 0));
    processor.port.send({ type: "push", itemId: "item_2", buffer: samples.buffer.slice(0, 960) });
    assert.ok(play(processor, 20).every((v) => v === 0), "late audio of an interrupted item");
  });

  it("reports underruns at the context's frames, and each starved item's fill", () => {
    const scope = evaluateWorklet(playbackWorkletSource(helpers), 24000);
    const processor = scope.create("rtw-playback", { processorOptions: { growMs: 0 } });
    scope.context.currentFrame = 128 * 1000; // the context ran before the node was made
    const blocks = [];
    const render = (count) => {
      for (let b = 0; b < count; b++) {
        const out = new Float32Array(128);
        processor.process([], [[out]], {});
        scope.context.currentFrame += 128;
        blocks.push(out);
      }
    };
    render(3); // nothing queued: silence that is no fill
    processor.port.send({ type: "push", itemId: "a", buffer: new Int16Array(2000).fill(3000).buffer });
    render(30);
    processor.port.send({ type: "push", itemId: "a", buffer: new Int16Array(2000).fill(3000).buffer });
    render(10);
    processor.port.send({ type: "interrupt" });
    render(2);
    const messages = processor.port.posted.map((p) => p.message);
    const underrun = messages.find((m) => m.type === "underrun");
    const recovered = messages.find((m) => m.type === "recovered");
    // 3 idle blocks, then 2000 samples at 24 kHz: the first 2000 frames of the item
    assert.equal(underrun.frame, 128 * 1003 + 2000);
    assert.equal(recovered.frame, 128 * 1033, "the second push came after block 33");
    assert.equal(recovered.silentFrames, 128 * 30 - 2000);
    const output = new Float32Array(blocks.length * 128);
    blocks.forEach((block, i) => output.set(block, i * 128));
    const at = (frame) => output[frame - 128 * 1000];
    assert.notEqual(at(underrun.frame - 1), 0);
    assert.equal(at(underrun.frame), 0);
    assert.notEqual(at(recovered.frame), 0);
    const report = messages.filter((m) => m.type === "underruns");
    assert.deepEqual(report, [{ type: "underruns", itemId: "a", count: 1, fillFrames: 128 * 30 - 2000 }]);
  });

  it("reports malformed messages and keeps playing", () => {
    const scope = evaluateWorklet(playbackWorkletSource(helpers), 48000);
    const processor = scope.create("rtw-playback");
    processor.port.send({ type: "push", itemId: "a", buffer: new ArrayBuffer(5) });
    processor.port.send({ type: "push", itemId: 7, buffer: new ArrayBuffer(4) });
    processor.port.send({ type: "nope" });
    const errors = processor.port.ofType("error").map((p) => p.message.message);
    assert.equal(errors.length, 3);
    assert.match(errors[0], /even byte length/);
    assert.match(errors[1], /itemId/);
    assert.match(errors[2], /unknown message type nope/);
    processor.port.send({ type: "push", itemId: "a", buffer: new Int16Array(2400).fill(1000).buffer });
    processor.port.send({ type: "done", itemId: "a" });
    assert.ok(play(processor, 40).some((v) => v !== 0));
  });

  it("renders into a mono output and stops on close", () => {
    const scope = evaluateWorklet(playbackWorkletSource(helpers), 48000);
    const processor = scope.create("rtw-playback");
    const out = new Float32Array(128);
    assert.equal(processor.process([], [[out]], {}), true);
    assert.equal(processor.process([], [], {}), true, "no output connected");
    processor.port.send({ type: "close" });
    assert.equal(processor.process([], [[out]], {}), false);
  });
});
