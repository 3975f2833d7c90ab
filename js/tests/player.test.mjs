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
      assert.deepEqual(events[0], { type: "started", itemId: "a" });
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
        { type: "started", itemId: "a" },
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
      const player = makePlayer(rate);
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
        const player = makePlayer(rate, { prebufferMs: 20 });
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
      { type: "started", itemId: "a" },
      { type: "finished", itemId: "a", playedSamples: 2400 },
      { type: "started", itemId: "b" },
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
    const player = makePlayer(24000, { prebufferMs: 10, rebufferMs: 40 });
    player.push({ itemId: "a", samples: constant(256) });
    renderBlocks(player, 4);
    assert.equal(player.played("a"), 256);
    player.push({ itemId: "a", samples: constant(900) });
    assert.equal(countSounding(renderBlocks(player, 4).out), 0, "900 < 960 samples (40 ms)");
    player.push({ itemId: "a", samples: constant(60) });
    const { out, events } = renderBlocks(player, 1);
    assert.equal(countSounding(out), 128);
    assert.deepEqual(events[0], { type: "recovered", itemId: "a", silentFrames: 768 });
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
