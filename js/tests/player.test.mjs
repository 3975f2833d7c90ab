import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { JitterPlayer } from "../lib/player.js";
import { StreamResampler } from "../lib/resample.js";

/**
 * @param {number} outputRate
 * @param {object} [options]
 */
function makePlayer(outputRate, options = {}) {
  return new JitterPlayer({
    outputRate,
    createResampler: (from, to) => new StreamResampler(from, to),
    ...options,
  });
}

/** Int16 samples of a constant value. */
function constant(n, value = 8192) {
  return new Int16Array(n).fill(value);
}

/**
 * Renders `blocks` blocks of 128 frames; returns the frames and the events.
 * @param {JitterPlayer} player
 * @param {number} blocks
 */
function renderBlocks(player, blocks) {
  const out = new Float32Array(blocks * 128);
  for (let b = 0; b < blocks; b++) player.render(out.subarray(b * 128, (b + 1) * 128));
  return { out, events: player.takeEvents() };
}

/** Frames with sound: the test sources are never silent, so these are the frames rendered. */
function countSounding(out) {
  let n = 0;
  for (const v of out) if (v !== 0) n++;
  return n;
}

const RATES = [48000, 44100, 24000];

describe("JitterPlayer pre-buffer", () => {
  for (const rate of RATES) {
    it(`waits for 60 ms of audio before starting an item (${rate} Hz)`, () => {
      const player = makePlayer(rate);
      player.push({ itemId: "a", samples: constant(1000) });
      let { out, events } = renderBlocks(player, 20);
      assert.equal(countSounding(out), 0);
      assert.deepEqual(events, []);
      assert.equal(player.current, null);
      assert.equal(player.played("a"), 0);

      player.push({ itemId: "a", samples: constant(440 + 32) });
      ({ out, events } = renderBlocks(player, 1));
      assert.equal(countSounding(out), 128, "starts on the next block, with no gap");
      assert.deepEqual(events[0], { type: "started", itemId: "a", frame: 20 * 128 });
      assert.equal(player.current, "a");
    });
  }

  it("starts a short item at once when its audio is complete", () => {
    const player = makePlayer(48000);
    player.push({ itemId: "a", samples: constant(240) });
    player.markDone("a");
    const { out, events } = renderBlocks(player, 8);
    assert.equal(countSounding(out), 480);
    assert.deepEqual(
      events.filter((e) => e.type !== "level"),
      [
        { type: "started", itemId: "a", frame: 0 },
        { type: "played", itemId: "a", playedSamples: 240 },
        { type: "finished", itemId: "a", playedSamples: 240 },
      ],
    );
  });

  it("honours a configured pre-buffer", () => {
    const player = makePlayer(24000, { prebufferMs: 20 });
    player.push({ itemId: "a", samples: constant(479) });
    assert.equal(countSounding(renderBlocks(player, 2).out), 0);
    player.push({ itemId: "a", samples: constant(1) });
    assert.equal(countSounding(renderBlocks(player, 1).out), 128);
  });
});

describe("JitterPlayer played counter", () => {
  for (const rate of RATES) {
    it(`counts rendered source samples across underruns, never resetting (${rate} Hz)`, () => {
      const player = makePlayer(rate, { growMs: 0 }); // a fixed buffer: every burst starts
      let sounding = 0;
      let pushed = 0;
      let underruns = 0;
      let recoveries = 0;
      let lastPlayed = 0;
      // Bursts of 2000 samples with long gaps: each burst plays out and starves.
      for (let burst = 0; burst < 5; burst++) {
        player.push({ itemId: "a", samples: constant(2000, 6000 + burst) });
        pushed += 2000;
        const { out, events } = renderBlocks(player, 60);
        sounding += countSounding(out);
        for (const e of events) {
          if (e.type === "underrun") underruns++;
          if (e.type === "recovered") recoveries++;
          if (e.type === "played") {
            assert.ok(e.playedSamples >= lastPlayed, "played never goes back");
            lastPlayed = e.playedSamples;
          }
        }
        // The count follows the frames that actually sounded, not the time elapsed.
        assert.equal(player.played("a"), Math.floor((sounding * 24000) / rate));
        assert.ok(player.played("a") <= pushed);
        assert.ok(player.played("a") > pushed - 2000, "each burst was played");
      }
      assert.equal(underruns, 5);
      assert.equal(recoveries, 4);
      const result = player.interrupt();
      assert.deepEqual(result, { itemId: "a", playedSamples: Math.floor((sounding * 24000) / rate) });
    });
  }

  for (const rate of RATES) {
    it(`interrupts exactly at the source sample being played (${rate} Hz)`, () => {
      // A click at source sample 5000 of an otherwise silent item, fed in uneven chunks with
      // gaps: the frame where the click peaks is where sample 5000 plays.
      const click = 5000;
      const source = new Int16Array(9600);
      source[click] = 30000;
      const run = (stopAfterFrame) => {
        const player = makePlayer(rate, { prebufferMs: 20, growMs: 0 }); // it must keep starving
        const frame = new Float32Array(1);
        const values = [];
        const played = [];
        let underruns = 0;
        let fed = 0;
        let chunk = 0;
        // A chunk every 2000 frames, every fourth one missing: less than real time, so the
        // item keeps starving.
        for (let t = 0; values.length < 60000; t++) {
          if (t % 2000 === 0 && fed < source.length && chunk % 4 !== 3) {
            const size = Math.min(700 + 13 * chunk, source.length - fed);
            player.push({ itemId: "a", samples: source.slice(fed, fed + size) });
            fed += size;
            if (fed === source.length) player.markDone("a");
          }
          if (t % 2000 === 0) chunk++;
          player.render(frame);
          values.push(frame[0]);
          played.push(player.played("a"));
          underruns += player.takeEvents().filter((e) => e.type === "underrun").length;
          if (values.length - 1 === stopAfterFrame) return { player, values, played, underruns };
        }
        return { player, values, played, underruns };
      };
      const full = run(-1);
      assert.ok(full.underruns >= 3, `${full.underruns} underruns`);
      let peak = 0;
      for (let i = 0; i < full.values.length; i++) if (full.values[i] > full.values[peak]) peak = i;
      assert.ok(full.values[peak] > 0.5, "the click is heard");
      assert.ok(
        full.played[peak] >= click && full.played[peak] <= click + 1,
        `played ${full.played[peak]} when the click sounded`,
      );
      assert.ok(full.played[peak - 1] <= click, "not counted before it sounded");

      const { player } = run(peak);
      const result = player.interrupt();
      assert.equal(result.itemId, "a");
      assert.equal(result.playedSamples, full.played[peak]);
      const after = new Float32Array(128);
      player.render(after);
      assert.equal(countSounding(after), 0, "silent from the next block on");
    });
  }

  it("counts two items queued back to back separately, with no gap between them", () => {
    const rate = 44100;
    const player = makePlayer(rate);
    player.push({ itemId: "a", samples: constant(2400, 5000) });
    player.push({ itemId: "b", samples: constant(4800, 7000) });
    player.markDone("a");
    player.markDone("b");
    const { out, events } = renderBlocks(player, 110);
    const framesA = Math.ceil((2400 * rate) / 24000);
    const framesB = Math.ceil((4800 * rate) / 24000);
    assert.equal(countSounding(out), framesA + framesB);
    assert.equal(countSounding(out.subarray(0, framesA + framesB)), framesA + framesB, "contiguous");
    const lifecycle = events.filter((e) => e.type === "started" || e.type === "finished");
    assert.deepEqual(lifecycle, [
      { type: "started", itemId: "a", frame: 0 },
      { type: "finished", itemId: "a", playedSamples: 2400 },
      { type: "started", itemId: "b", frame: framesA },
      { type: "finished", itemId: "b", playedSamples: 4800 },
    ]);
    assert.equal(player.played("a"), 2400);
    assert.equal(player.played("b"), 4800);
    assert.equal(player.current, null);
  });

  it("interrupts the second item mid-chunk without touching the first's count", () => {
    const rate = 48000;
    const player = makePlayer(rate);
    player.push({ itemId: "a", samples: constant(2400) });
    player.markDone("a");
    player.push({ itemId: "b", samples: constant(4800) });
    player.push({ itemId: "c", samples: constant(4800) });
    const { out } = renderBlocks(player, 50);
    const framesB = countSounding(out) - 4800;
    assert.ok(framesB > 0 && framesB < 9600);
    assert.deepEqual(player.interrupt(), { itemId: "b", playedSamples: framesB / 2 });
    assert.equal(player.played("a"), 2400);
    assert.equal(player.played("b"), framesB / 2);
    assert.equal(player.played("c"), 0);
    assert.equal(player.bufferedSamples, 0);
  });
});

describe("JitterPlayer completion and interruption", () => {
  it("finishes an item only when its audio is marked complete", () => {
    const player = makePlayer(48000);
    player.push({ itemId: "a", samples: constant(3000) });
    let { events } = renderBlocks(player, 100);
    assert.ok(!events.some((e) => e.type === "finished"));
    assert.ok(events.some((e) => e.type === "underrun"), "waiting for more audio is an underrun");
    // The resampler holds back its lookahead until the end is known.
    assert.ok(player.played("a") < 3000 && player.played("a") >= 3000 - 17);
    assert.equal(player.markDone("a"), true);
    ({ events } = renderBlocks(player, 2));
    assert.deepEqual(
      events.filter((e) => e.type === "finished"),
      [{ type: "finished", itemId: "a", playedSamples: 3000 }],
    );
    assert.equal(player.played("a"), 3000);
    assert.equal(player.markDone("a"), false, "finished items are gone");
    assert.equal(player.push({ itemId: "a", samples: constant(10) }), false);
  });

  it("ignores chunks after the audio was marked complete", () => {
    const player = makePlayer(24000);
    player.push({ itemId: "a", samples: constant(100) });
    player.markDone("a");
    assert.equal(player.push({ itemId: "a", samples: constant(100) }), false);
    renderBlocks(player, 2);
    assert.equal(player.played("a"), 100);
  });

  it("drops everything on interrupt and ignores late chunks of dropped items", () => {
    const player = makePlayer(48000);
    player.push({ itemId: "a", samples: constant(4800) });
    player.push({ itemId: "b", samples: constant(4800) });
    renderBlocks(player, 10);
    const played = player.played("a");
    assert.ok(played > 0);
    assert.deepEqual(player.interrupt(), { itemId: "a", playedSamples: played });
    assert.equal(player.push({ itemId: "a", samples: constant(480) }), false);
    assert.equal(player.push({ itemId: "b", samples: constant(480) }), false);
    assert.equal(countSounding(renderBlocks(player, 10).out), 0);
    assert.equal(player.played("a"), played, "the count of a dropped item is kept");
    assert.deepEqual(player.interrupt(), { itemId: null, playedSamples: 0 });

    assert.equal(player.push({ itemId: "c", samples: constant(2400) }), true);
    assert.equal(countSounding(renderBlocks(player, 4).out), 512, "a new item plays");
  });

  it("reports 0 played when interrupted while still pre-buffering", () => {
    const player = makePlayer(48000);
    player.push({ itemId: "a", samples: constant(100) });
    renderBlocks(player, 3);
    assert.deepEqual(player.interrupt(), { itemId: "a", playedSamples: 0 });
  });

  it("waits for the re-buffer amount before resuming after an underrun", () => {
    const player = makePlayer(24000, { prebufferMs: 10, rebufferMs: 40, growMs: 0 });
    player.push({ itemId: "a", samples: constant(256) });
    renderBlocks(player, 4);
    assert.equal(player.played("a"), 256);
    player.push({ itemId: "a", samples: constant(900) });
    assert.equal(countSounding(renderBlocks(player, 4).out), 0, "900 < 960 samples (40 ms)");
    player.push({ itemId: "a", samples: constant(60) });
    const { out, events } = renderBlocks(player, 1);
    assert.equal(countSounding(out), 128);
    assert.deepEqual(events[0], { type: "recovered", itemId: "a", silentFrames: 768, frame: 1024 });
  });
});

describe("JitterPlayer events", () => {
  it("reports progress about every 50 ms, level while sounding, and one final 0 level", () => {
    const rate = 48000;
    const player = makePlayer(rate);
    player.push({ itemId: "a", samples: constant(24000, 16384) });
    player.markDone("a");
    const { events } = renderBlocks(player, Math.ceil((1.2 * rate) / 128));
    const progress = events.filter((e) => e.type === "played");
    assert.ok(progress.length >= 19 && progress.length <= 22, `${progress.length} played events`);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i].playedSamples > progress[i - 1].playedSamples);
    }
    assert.equal(progress.at(-1).playedSamples, 24000);
    const levels = events.filter((e) => e.type === "level");
    assert.ok(levels.length >= 19 && levels.length <= 22, `${levels.length} level events`);
    assert.ok(Math.abs(levels[5].rms - 0.5) < 1e-3, `level ${levels[5].rms}`);
    assert.equal(levels.at(-1).rms, 0);
    assert.ok(levels.slice(0, -1).every((e) => e.rms > 0));
    assert.deepEqual(renderBlocks(player, 50).events, [], "idle: no events");
  });

  it("refuses malformed chunks and options", () => {
    const player = makePlayer(48000);
    assert.throws(() => player.push({ itemId: "", samples: constant(1) }), TypeError);
    assert.throws(() => player.push({ itemId: "a", samples: /** @type {any} */ (new Float32Array(1)) }), TypeError);
    assert.throws(() => makePlayer(44100.5), RangeError);
    assert.throws(() => makePlayer(48000, { prebufferMs: -1 }), RangeError);
    assert.throws(() => new JitterPlayer(/** @type {any} */ ({ outputRate: 48000 })), TypeError);
  });
});

/**
 * Renders blocks until the player reports an underrun (at most `limit` blocks).
 * @param {JitterPlayer} player
 * @returns {{out: Float32Array, events: any[]}}
 */
function renderUntilStarved(player, limit = 1000) {
  const chunks = [];
  const events = [];
  for (let b = 0; b < limit; b++) {
    const rendered = renderBlocks(player, 1);
    chunks.push(rendered.out);
    events.push(...rendered.events);
    if (rendered.events.some((e) => e.type === "underrun")) break;
  }
  const out = new Float32Array(chunks.length * 128);
  chunks.forEach((chunk, i) => out.set(chunk, i * 128));
  return { out, events };
}

describe("JitterPlayer underruns", () => {
  for (const rate of RATES) {
    it(`counts each underrun and its fill frames, where they are (${rate} Hz)`, () => {
      const player = makePlayer(rate, { growMs: 0 });
      const parts = [];
      const events = [];
      for (let burst = 0; burst < 3; burst++) {
        player.push({ itemId: "a", samples: constant(3000, 5000 + burst) });
        const rendered = renderBlocks(player, 80);
        parts.push(rendered.out);
        events.push(...rendered.events);
      }
      player.push({ itemId: "a", samples: constant(1000, 4000) });
      player.markDone("a");
      const last = renderBlocks(player, 20);
      parts.push(last.out);
      events.push(...last.events);
      const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const part of parts) {
        out.set(part, at);
        at += part.length;
      }
      const underruns = events.filter((e) => e.type === "underrun");
      const recoveries = events.filter((e) => e.type === "recovered");
      assert.equal(underruns.length, 3, "each burst ran out before the item's end");
      assert.equal(recoveries.length, 3);
      // fill: from each underrun's frame to the next recovery's, silent, and only there
      let fill = 0;
      for (let i = 0; i < 3; i++) {
        const [from, to] = [underruns[i].frame, recoveries[i].frame];
        assert.notEqual(out[from - 1], 0, "sound up to the underrun");
        assert.ok(out.subarray(from, to).every((v) => v === 0), "silence while starved");
        assert.notEqual(out[to], 0, "sound again at the recovery");
        assert.equal(recoveries[i].silentFrames, to - from);
        fill += to - from;
      }
      const firstSound = out.findIndex((v) => v !== 0);
      const lastSound = out.findLastIndex((v) => v !== 0);
      assert.equal(lastSound + 1 - firstSound - fill, countSounding(out), "the rest is the item");
      assert.deepEqual(player.stats, {
        underruns: 3,
        fillFrames: fill,
        frames: countSounding(out),
        targetMs: 60,
      });
      assert.deepEqual(
        events.filter((e) => e.type === "underruns"),
        [{ type: "underruns", itemId: "a", count: 3, fillFrames: fill }],
      );
      assert.equal(player.played("a"), 10000, "fill is never counted as played");
    });
  }

  it("reports the underruns of an item dropped while starved, and none for a clean item", () => {
    const player = makePlayer(48000);
    player.push({ itemId: "a", samples: constant(2400) });
    player.markDone("a");
    player.push({ itemId: "b", samples: constant(2400) });
    const { events } = renderUntilStarved(player);
    assert.ok(!events.some((e) => e.type === "underruns"), "a played to its end without one");
    renderBlocks(player, 5);
    player.interrupt();
    const fill = player.stats.fillFrames;
    assert.ok(fill >= 5 * 128);
    assert.deepEqual(
      player.takeEvents().filter((e) => e.type === "underruns"),
      [{ type: "underruns", itemId: "b", count: 1, fillFrames: fill }],
    );
  });
});

describe("JitterPlayer adaptive buffer", () => {
  it("grows the pre-buffer and re-buffer at each underrun, up to its bound", () => {
    // 24 kHz out: one frame per source sample, and no resampler lookahead held back
    const player = makePlayer(24000, { prebufferMs: 60, growMs: 40, maxGrowthMs: 100 });
    assert.equal(player.stats.targetMs, 60);
    player.push({ itemId: "a", samples: constant(1440) });
    renderUntilStarved(player);
    assert.equal(player.stats.targetMs, 100, "one underrun: 40 ms more");
    const played = player.played("a");
    // the re-buffer is 100 ms now: 60 ms queued no longer resumes the item
    player.push({ itemId: "a", samples: constant(2399) });
    assert.equal(countSounding(renderBlocks(player, 4).out), 0);
    player.push({ itemId: "a", samples: constant(1) });
    assert.equal(countSounding(renderBlocks(player, 1).out), 128, "100 ms queued resumes it");
    renderUntilStarved(player);
    assert.equal(player.stats.targetMs, 140);
    player.push({ itemId: "a", samples: constant(4000) });
    renderUntilStarved(player);
    assert.equal(player.stats.targetMs, 160, "bounded: 100 ms of growth at most");
    assert.equal(player.stats.underruns, 3);
    assert.ok(player.played("a") > played);
    // a new item starts on the grown pre-buffer too
    player.interrupt();
    player.push({ itemId: "b", samples: constant(3839) }); // 160 ms less one sample
    assert.equal(countSounding(renderBlocks(player, 4).out), 0);
    player.push({ itemId: "b", samples: constant(1) });
    assert.equal(countSounding(renderBlocks(player, 1).out), 128);
  });

  it("grows by the silence of a long underrun, once the item resumes, up to its bound", () => {
    const player = makePlayer(24000, { prebufferMs: 60, growMs: 40, maxGrowthMs: 400 });
    player.push({ itemId: "a", samples: constant(1440) });
    renderUntilStarved(player);
    renderBlocks(player, 20); // a delivery stall: 2,560 frames more of silence
    player.push({ itemId: "a", samples: constant(4800) }); // the backlog at once
    const { events } = renderBlocks(player, 1);
    const recovered = events.find((e) => e.type === "recovered");
    assert.ok(recovered.silentFrames > 2560);
    // 24 kHz out: the silence in frames is the silence in source samples
    assert.equal(player.stats.targetMs, ((1440 + recovered.silentFrames) * 1000) / 24000);
    renderUntilStarved(player);
    renderBlocks(player, 100); // over 0.5 s of silence: the growth stops at its bound
    player.push({ itemId: "a", samples: constant(24000) });
    renderBlocks(player, 1);
    assert.equal(player.stats.targetMs, 460);
  });

  it("shrinks back one step per calm stretch of audio rendered, down to the configured one", () => {
    const player = makePlayer(24000, {
      prebufferMs: 60,
      growMs: 40,
      maxGrowthMs: 200,
      calmMs: 1000,
      shrinkMs: 20,
    });
    player.push({ itemId: "a", samples: constant(1440) });
    renderUntilStarved(player);
    player.push({ itemId: "a", samples: constant(2400) });
    renderUntilStarved(player);
    assert.equal(player.stats.targetMs, 140);
    player.push({ itemId: "a", samples: constant(24000 * 8) });
    const steps = [];
    for (let second = 0; second < 6; second++) {
      const { out } = renderBlocks(player, 188); // just over a second: 24,064 frames
      assert.equal(countSounding(out), 188 * 128);
      steps.push(player.stats.targetMs);
    }
    assert.deepEqual(steps, [120, 100, 80, 60, 60, 60]);
    assert.equal(player.stats.underruns, 2, "no underrun meanwhile");
  });

  it("restarts the calm stretch at each underrun, and idles without shrinking", () => {
    const player = makePlayer(24000, { prebufferMs: 20, calmMs: 1000, growMs: 40 });
    player.push({ itemId: "a", samples: constant(20000) });
    renderUntilStarved(player); // 0.83 s played, then an underrun
    assert.equal(player.stats.targetMs, 60);
    player.push({ itemId: "a", samples: constant(20000) });
    renderUntilStarved(player); // 0.83 s more: no stretch of 1 s without an underrun
    assert.equal(player.stats.targetMs, 100);
    player.interrupt();
    renderBlocks(player, 1000); // 5 s of silence with nothing queued: not a calm stretch
    assert.equal(player.stats.targetMs, 100);
  });

  it("keeps a fixed buffer with growMs 0, and refuses bad adaptation options", () => {
    const player = makePlayer(24000, { growMs: 0 });
    player.push({ itemId: "a", samples: constant(1440) });
    renderUntilStarved(player);
    assert.equal(player.stats.targetMs, 60);
    assert.throws(() => makePlayer(48000, { growMs: -1 }), /growMs must be in 0\.\.10000, got -1/);
    assert.throws(() => makePlayer(48000, { calmMs: 0 }), /calmMs must be in 1\.\.600000, got 0/);
    assert.throws(() => makePlayer(48000, { maxGrowthMs: Number.NaN }), /maxGrowthMs/);
  });
});
