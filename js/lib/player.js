// The playback core: a jitter buffer of assistant audio items and the count of what was heard.
//
// Assembly convention (checked by js/tests/bundle.test.mjs): the js/lib files are
// concatenated into the widget's single ES module with the leading `export ` of each
// top-level declaration removed. So a lib file has no import statements, its top-level
// statements are only `export function` / `export class` / `export const` declarations with
// names unique across js/lib, and it has no top-level side effects. Classes that run inside
// the AudioWorklet are injected there by `String(cls)`: they reference only their own
// parameters, `this`, and JavaScript built-ins (the resampler comes in as a factory).
//
// The rules
// ---------
// Audio arrives as 24 kHz PCM16 chunks tagged with the assistant item they belong to. Items
// play one after another in the order their first chunk arrived; each goes through
//
//     queued --(pre-buffer reached, or audio complete)--> playing
//     playing --(no samples left, audio not complete)--> starved   [event "underrun"]
//     starved --(re-buffer reached, or audio complete)--> playing  [event "recovered"]
//     playing --(every sample rendered, audio complete)--> finished [event "finished"]
//     any --(interrupt)--> dropped
//
// "Audio complete" is `markDone(itemId)`: the kernel saw the server's audio `.done` event.
// Only then is the last sample rendered and the item finished; until then running out of
// samples is an underrun, since more may come.
//
// `played` counts the item's SOURCE samples (24 kHz) actually rendered, the unit the kernel
// needs for `conversation.item.truncate` (`audio_end_ms = played * 1000 / 24000`). It is
// derived from the output frames rendered for the item, never from a clock: silence written
// while queued or starved is not counted, and nothing resets it. After `frames` output frames
// at the context rate R, `played = min(received, floor(frames * 24000 / R))`: the audio up to
// that position has been rendered, to the source sample. The resampling kernel reaches
// 16 source samples (0.67 ms) to each side of a position, so the listener has also heard a
// faded trace of up to 16 samples past `played`, never more. `played` never exceeds the
// samples received for the item.
//
// The buffer adapts (`growMs`, `maxGrowthMs`, `calmMs`, `shrinkMs`): each underrun adds
// to the audio an item must have queued to start or resume `growMs` at once and, when the
// item resumes, as much as the silence it lasted if that is more (a delivery stall that
// outlasted the buffer by that much would then be covered), up to `maxGrowthMs` more than
// configured; after every `calmMs` of item audio rendered without an underrun, `shrinkMs`
// of that growth goes again. Steps follow the frames rendered, never a clock.
// The silence written while an item is starved is its underrun fill: counted per item
// (reported as an "underruns" event when an item with underruns finishes or is dropped) and
// over the player's life (`stats`). Fill never counts as played.
//
// Each item gets its own resampler starting at phase 0, so an item's frame k is exactly its
// source position k * 24000 / R; back-to-back items are joined without a gap, each starting
// on a whole output frame.
//
// Events are queued and taken with `takeEvents()`, after each `render()`. The `frame` of a
// "started", "underrun" or "recovered" event counts the frames the player had rendered
// before it: where the item's first sample, its fill, or its sound again, begins.

/**
 * @typedef {object} Resampler the part of `StreamResampler` the player uses
 * @property {number} lookahead input samples needed past a frame's position
 * @property {number} available output frames ready to read
 * @property {(input: Float32Array) => void} push
 * @property {() => void} end
 * @property {(out: Float32Array, offset?: number, count?: number) => number} read
 */

/**
 * @typedef {{type: "started", itemId: string, frame: number}
 *   | {type: "played", itemId: string, playedSamples: number}
 *   | {type: "finished", itemId: string, playedSamples: number}
 *   | {type: "underrun", itemId: string, playedSamples: number, frame: number}
 *   | {type: "recovered", itemId: string, silentFrames: number, frame: number}
 *   | {type: "underruns", itemId: string, count: number, fillFrames: number}
 *   | {type: "level", rms: number}} PlayerEvent
 */

/**
 * @typedef {object} PlayerOptions
 * @property {number} outputRate the audio context's sample rate (frames per second rendered)
 * @property {(fromRate: number, toRate: number) => Resampler} createResampler makes one
 *   resampler per item, e.g. `(f, t) => new StreamResampler(f, t)`
 * @property {number} [sourceRate] rate of the pushed samples, 24000 by default
 * @property {number} [prebufferMs] audio an item must have queued before it starts, 60 ms
 *   by default (an item whose audio is complete starts at once)
 * @property {number} [rebufferMs] audio a starved item must have queued before it resumes,
 *   `prebufferMs` by default
 * @property {number} [progressMs] interval of "played" events while an item plays, 50 ms
 * @property {number} [levelMs] interval of "level" events, 50 ms
 * @property {number} [growMs] added to the pre-buffer and re-buffer at each underrun (or
 *   the underrun's silence, if longer), 40 ms by default (0: a fixed buffer)
 * @property {number} [maxGrowthMs] bound of what underruns add, 400 ms by default
 * @property {number} [calmMs] item audio rendered without an underrun before the buffer
 *   shrinks one step, 10000 ms by default
 * @property {number} [shrinkMs] one step back, 20 ms by default
 */

/**
 * @typedef {object} PlayerStats counts over the player's life
 * @property {number} underruns times an item ran out of audio before its end
 * @property {number} fillFrames silent frames rendered while an item was starved
 * @property {number} frames frames of item audio rendered (fill not included)
 * @property {number} targetMs audio an item must have queued now to start (pre-buffer and
 *   growth)
 */

/**
 * @typedef {object} PlayItem
 * @property {string} id
 * @property {Int16Array[]} chunks samples received, not yet given to the resampler
 * @property {number} received samples received in all
 * @property {boolean} done the kernel said the item's audio is complete
 * @property {boolean} started
 * @property {boolean} starved
 * @property {number} frames output frames rendered
 * @property {number} reported `playedSamples` of the last "played" event
 * @property {number} silentFrames frames of silence during the current underrun
 * @property {number} underruns times the item ran out of audio
 * @property {number} fillFrames frames of silence over all its underruns
 * @property {Resampler} resampler
 */

/**
 * Jitter buffer and renderer of assistant audio items, counting what was heard.
 * Pure and synchronous: the playback worklet feeds it messages and calls `render()` from
 * `process()`.
 */
export class JitterPlayer {
  /**
   * @param {PlayerOptions} options
   * @throws {RangeError} when an option is out of range
   */
  constructor(options) {
    const { outputRate, createResampler } = options;
    const sourceRate = options.sourceRate ?? 24000;
    const prebufferMs = options.prebufferMs ?? 60;
    const rebufferMs = options.rebufferMs ?? prebufferMs;
    const progressMs = options.progressMs ?? 50;
    const levelMs = options.levelMs ?? 50;
    const growMs = options.growMs ?? 40;
    const maxGrowthMs = options.maxGrowthMs ?? 400;
    const calmMs = options.calmMs ?? 10000;
    const shrinkMs = options.shrinkMs ?? 20;
    if (!Number.isInteger(outputRate) || outputRate <= 0) {
      throw new RangeError(`outputRate must be a positive integer, got ${outputRate}`);
    }
    if (!Number.isInteger(sourceRate) || sourceRate <= 0) {
      throw new RangeError(`sourceRate must be a positive integer, got ${sourceRate}`);
    }
    if (typeof createResampler !== "function") {
      throw new TypeError("createResampler must be a function");
    }
    /** @type {[string, number][]} */
    const durations = [
      ["prebufferMs", prebufferMs],
      ["rebufferMs", rebufferMs],
      ["progressMs", progressMs],
      ["levelMs", levelMs],
      ["growMs", growMs],
      ["maxGrowthMs", maxGrowthMs],
      ["shrinkMs", shrinkMs],
    ];
    for (const [name, ms] of durations) {
      if (!(ms >= 0 && ms <= 10000)) throw new RangeError(`${name} must be in 0..10000, got ${ms}`);
    }
    if (!(calmMs > 0 && calmMs <= 600000)) {
      throw new RangeError(`calmMs must be in 1..600000, got ${calmMs}`);
    }
    /** @readonly */
    this.outputRate = outputRate;
    /** @readonly */
    this.sourceRate = sourceRate;
    this._createResampler = createResampler;
    this._prebuffer = Math.round((prebufferMs * sourceRate) / 1000);
    this._rebuffer = Math.round((rebufferMs * sourceRate) / 1000);
    this._progressFrames = Math.max(1, Math.round((progressMs * outputRate) / 1000));
    this._levelFrames = Math.max(1, Math.round((levelMs * outputRate) / 1000));
    this._grow = Math.round((growMs * sourceRate) / 1000);
    this._maxGrowth = Math.round((maxGrowthMs * sourceRate) / 1000);
    this._shrink = Math.round((shrinkMs * sourceRate) / 1000);
    this._calmFrames = Math.max(1, Math.round((calmMs * outputRate) / 1000));
    /** source samples added to the pre-buffer and re-buffer by underruns */
    this._growth = 0;
    /** the growth before the current underrun began */
    this._growthBefore = 0;
    /** item audio frames rendered since the last underrun or shrink step */
    this._calm = 0;
    /** frames rendered over the player's life */
    this._rendered = 0;
    this._underruns = 0;
    this._fillFrames = 0;
    this._audioFrames = 0;
    /** @type {PlayItem[]} */
    this._items = [];
    /** Final counts of finished and dropped items, oldest first, at most 64. */
    /** @type {Map<string, number>} */
    this._closed = new Map();
    /** @type {PlayerEvent[]} */
    this._events = [];
    this._sinceProgress = 0;
    this._levelSum = 0;
    this._levelFrameCount = 0;
    this._lastLevel = 0;
  }

  /**
   * Queues a chunk of an item's audio. The array is kept, not copied: do not modify it.
   * @param {{itemId: string, samples: Int16Array}} chunk
   * @returns {boolean} false when ignored: the item was interrupted or has finished, or its
   *   audio was already marked complete (late chunks after an interrupt are expected)
   * @throws {TypeError} when the chunk is malformed
   */
  push(chunk) {
    const { itemId, samples } = chunk;
    if (typeof itemId !== "string" || itemId === "") {
      throw new TypeError(`itemId must be a non-empty string, got ${String(itemId)}`);
    }
    if (Object.prototype.toString.call(samples) !== "[object Int16Array]") {
      throw new TypeError(`samples must be an Int16Array, got ${Object.prototype.toString.call(samples)}`);
    }
    if (this._closed.has(itemId)) return false;
    let item = this._find(itemId);
    if (item === undefined) {
      item = {
        id: itemId,
        chunks: [],
        received: 0,
        done: false,
        started: false,
        starved: false,
        frames: 0,
        reported: -1,
        silentFrames: 0,
        underruns: 0,
        fillFrames: 0,
        resampler: this._createResampler(this.sourceRate, this.outputRate),
      };
      this._items.push(item);
    } else if (item.done) {
      return false;
    }
    if (samples.length > 0) {
      item.chunks.push(samples);
      item.received += samples.length;
    }
    return true;
  }

  /**
   * Marks an item's audio complete: once its last sample is rendered it finishes.
   * @param {string} itemId
   * @returns {boolean} false when no such item is queued or playing
   */
  markDone(itemId) {
    const item = this._find(itemId);
    if (item === undefined) return false;
    item.done = true;
    return true;
  }

  /**
   * Renders the next frames: the playing item's audio, silence where there is none.
   * @param {Float32Array} out frames to fill (128 in an AudioWorklet; any length works)
   */
  render(out) {
    const frames = out.length;
    let pos = 0;
    while (pos < frames) {
      const item = this._items[0];
      if (item === undefined) break;
      if (!item.started || item.starved) {
        const target = (item.started ? this._rebuffer : this._prebuffer) + this._growth;
        const ahead = item.received - this._playedOf(item);
        if (!item.done && ahead < target + item.resampler.lookahead) break;
        if (!item.started) {
          item.started = true;
          this._events.push({ type: "started", itemId: item.id, frame: this._rendered + pos });
        } else {
          item.starved = false;
          const frame = this._rendered + pos;
          this._events.push({ type: "recovered", itemId: item.id, silentFrames: item.silentFrames, frame });
          this._recover(item.silentFrames);
          item.silentFrames = 0;
        }
      }
      const want = frames - pos;
      this._feed(item, want);
      const got = item.resampler.read(out, pos, want);
      pos += got;
      item.frames += got;
      this._audioRendered(got);
      if (item.done && item.chunks.length === 0 && item.resampler.available === 0) {
        this._finish(item);
        continue;
      }
      if (pos < frames) this._starve(item, pos);
      break;
    }
    if (pos < frames) {
      out.fill(0, pos);
      const head = this._items[0];
      if (head !== undefined && head.starved) {
        head.silentFrames += frames - pos;
        head.fillFrames += frames - pos;
        this._fillFrames += frames - pos;
      }
    }
    this._rendered += frames;
    this._report(out);
  }

  /** Counts over the player's life, and the buffer's target now. @returns {PlayerStats} */
  get stats() {
    return {
      underruns: this._underruns,
      fillFrames: this._fillFrames,
      frames: this._audioFrames,
      targetMs: ((this._prebuffer + this._growth) * 1000) / this.sourceRate,
    };
  }

  /** Frames rendered over the player's life (what `frame` in events counts). */
  get renderedFrames() {
    return this._rendered;
  }

  /**
   * The item ran out of audio `pos` frames into this block: an underrun, and the buffer
   * grows (bounded).
   * @param {PlayItem} item
   * @param {number} pos
   */
  _starve(item, pos) {
    item.starved = true;
    item.underruns += 1;
    this._underruns += 1;
    this._growthBefore = this._growth;
    this._growth = Math.min(this._maxGrowth, this._growth + this._grow);
    this._calm = 0;
    const playedSamples = this._playedOf(item);
    this._events.push({ type: "underrun", itemId: item.id, playedSamples, frame: this._rendered + pos });
  }

  /**
   * An item resumes after `silentFrames` of underrun fill: the growth for this underrun is
   * that silence when it is longer than `growMs` (bounded). Nothing grows with `growMs` 0.
   * @param {number} silentFrames
   */
  _recover(silentFrames) {
    if (this._grow === 0) return;
    const silence = Math.round((silentFrames * this.sourceRate) / this.outputRate);
    const wanted = Math.min(this._maxGrowth, this._growthBefore + silence);
    if (wanted > this._growth) this._growth = wanted;
  }

  /**
   * `frames` of item audio were rendered: after each stretch of `calmMs` of them without an
   * underrun the buffer shrinks one step.
   * @param {number} frames
   */
  _audioRendered(frames) {
    this._audioFrames += frames;
    this._calm += frames;
    if (this._calm < this._calmFrames) return;
    this._calm -= this._calmFrames;
    this._growth = Math.max(0, this._growth - this._shrink);
  }

  /**
   * Stops playback at once: every queued item is dropped and the next frame is silent.
   * Chunks that arrive later for a dropped item are ignored. A dropped item that had
   * underruns has its "underruns" event queued.
   * @returns {{itemId: string | null, playedSamples: number}} the item at the head of the
   *   queue (playing, starved, or still pre-buffering with 0 played) and its source samples
   *   rendered; `itemId` is null when nothing was queued
   */
  interrupt() {
    const head = this._items[0];
    const result =
      head === undefined
        ? { itemId: null, playedSamples: 0 }
        : { itemId: head.id, playedSamples: this._playedOf(head) };
    for (const item of this._items) {
      this._reportUnderruns(item);
      this._close(item.id, this._playedOf(item));
    }
    this._items = [];
    return result;
  }

  /**
   * Source samples rendered so far for an item (queued, playing, finished or dropped).
   * @param {string} itemId
   * @returns {number} 0 for an unknown item
   */
  played(itemId) {
    const item = this._find(itemId);
    if (item !== undefined) return this._playedOf(item);
    return this._closed.get(itemId) ?? 0;
  }

  /** The id of the item being played (or starved), null when idle or pre-buffering. */
  get current() {
    const head = this._items[0];
    return head !== undefined && head.started ? head.id : null;
  }

  /** Source samples queued and not yet rendered, over all items. */
  get bufferedSamples() {
    let total = 0;
    for (const item of this._items) total += item.received - this._playedOf(item);
    return total;
  }

  /**
   * Returns the events since the last call, oldest first, and forgets them.
   * @returns {PlayerEvent[]}
   */
  takeEvents() {
    const events = this._events;
    this._events = [];
    return events;
  }

  /**
   * @param {string} itemId
   * @returns {PlayItem | undefined}
   */
  _find(itemId) {
    for (let i = this._items.length - 1; i >= 0; i--) {
      if (this._items[i].id === itemId) return this._items[i];
    }
    return undefined;
  }

  /**
   * @param {PlayItem} item
   * @returns {number}
   */
  _playedOf(item) {
    const scaled = item.frames * this.sourceRate;
    const whole = (scaled - (scaled % this.outputRate)) / this.outputRate;
    return whole < item.received ? whole : item.received;
  }

  /**
   * Gives the item's resampler enough input for `want` frames, or all there is; ends its
   * stream once the item's audio is complete and handed over.
   * @param {PlayItem} item
   * @param {number} want
   */
  _feed(item, want) {
    const resampler = item.resampler;
    while (resampler.available < want && item.chunks.length > 0) {
      const chunk = /** @type {Int16Array} */ (item.chunks.shift());
      const floats = new Float32Array(chunk.length);
      for (let i = 0; i < chunk.length; i++) floats[i] = chunk[i] / 32768;
      resampler.push(floats);
    }
    if (item.done && item.chunks.length === 0) resampler.end();
  }

  /** @param {PlayItem} item */
  _finish(item) {
    const playedSamples = this._playedOf(item);
    this._events.push({ type: "played", itemId: item.id, playedSamples });
    this._events.push({ type: "finished", itemId: item.id, playedSamples });
    this._reportUnderruns(item);
    this._close(item.id, playedSamples);
    this._items.shift();
  }

  /**
   * An item leaves the queue: its underruns, if it had any, go out as one event.
   * @param {PlayItem} item
   */
  _reportUnderruns(item) {
    if (item.underruns === 0) return;
    const { underruns: count, fillFrames } = item;
    this._events.push({ type: "underruns", itemId: item.id, count, fillFrames });
  }

  /**
   * @param {string} itemId
   * @param {number} playedSamples
   */
  _close(itemId, playedSamples) {
    this._closed.delete(itemId);
    this._closed.set(itemId, playedSamples);
    if (this._closed.size > 64) {
      const oldest = this._closed.keys().next().value;
      if (oldest !== undefined) this._closed.delete(oldest);
    }
  }

  /**
   * Periodic "played" and "level" events. Level events stop after the first silent one.
   * @param {Float32Array} out the frames just rendered
   */
  _report(out) {
    const frames = out.length;
    this._sinceProgress += frames;
    if (this._sinceProgress >= this._progressFrames) {
      this._sinceProgress %= this._progressFrames;
      const head = this._items[0];
      if (head !== undefined && head.started) {
        const playedSamples = this._playedOf(head);
        if (playedSamples !== head.reported) {
          head.reported = playedSamples;
          this._events.push({ type: "played", itemId: head.id, playedSamples });
        }
      }
    }
    let sum = 0;
    for (let i = 0; i < frames; i++) sum += out[i] * out[i];
    this._levelSum += sum;
    this._levelFrameCount += frames;
    if (this._levelFrameCount >= this._levelFrames) {
      const rms = Math.sqrt(this._levelSum / this._levelFrameCount);
      if (rms > 0 || this._lastLevel > 0) this._events.push({ type: "level", rms });
      this._lastLevel = rms;
      this._levelSum = 0;
      this._levelFrameCount = 0;
    }
  }
}
