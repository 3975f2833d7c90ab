// AudioWorklet processors for capture and playback, as source strings.
//
// Assembly convention (checked by js/tests/bundle.test.mjs): the js/lib files are
// concatenated into the widget's single ES module with the leading `export ` of each
// top-level declaration removed. So a lib file has no import statements, its top-level
// statements are only `export function` / `export class` / `export const` declarations with
// names unique across js/lib, and it has no top-level side effects.
//
// The widget's module is loaded from a `blob:` URL, so `audioWorklet.addModule()` cannot be
// given a relative path: it gets a Blob URL of the source built here. The source is made of
// the helper classes and functions (`String(helper)`), the processor definition below, and a
// call that passes them the worklet's globals:
//
//     const source = audioWorkletSource({ StreamResampler, Chunker, JitterPlayer,
//                                         floatToPcm16, fromBuffer, rmsLevel });
//     const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
//     await context.audioWorklet.addModule(url);
//
// Port messages (`node.port`), as the worklets send and accept them:
//
// rtw-capture (input: the microphone, any rate and channel count; no output)
//   out {type: "chunk", buffer: ArrayBuffer, offset: number, samples: number, t?: number}
//        PCM16 LE mono 24 kHz; the buffer is transferred and holds exactly the chunk;
//        `offset` counts 24 kHz samples sent before this chunk since the node started;
//        `t` (with the `trace` option only): `Date.now()` when the chunk was posted
//   out {type: "level", rms: number}        input level 0..1, every `levelMs`
//   out {type: "flushed", offset: number}   answers "flush", after the last short chunk
//   in  {type: "flush"}   send the pending samples now as a short chunk (push-to-talk release)
//   in  {type: "reset"}   drop pending samples and filter state (offsets keep counting)
//   in  {type: "close"}   stop processing for good (the node can then be released)
//   out {type: "error", message: string}   an unknown message type (it is ignored)
//   processorOptions: {chunkMs?: 40..100 (80), levelMs?: number (50), trace?: boolean}
//
// rtw-playback (no input; one output, mono, copied to every output channel)
//   in  {type: "push", itemId: string, buffer: ArrayBuffer | ArrayBufferView}  PCM16 24 kHz
//   in  {type: "done", itemId: string}   the item's audio is complete
//   in  {type: "interrupt"}   stop now -> {type: "interrupted", itemId, playedSamples}
//   in  {type: "close"}
//   out {type: "interrupted", itemId: string | null, playedSamples: number}
//   out {type: "started", itemId, frame}   `frame`: the context's frame of its first sample
//   out {type: "played", itemId, playedSamples}   every `progressMs` while playing, and last
//        when the item finishes; playedSamples are 24 kHz source samples rendered
//   out {type: "finished", itemId, playedSamples}
//   out {type: "underrun", itemId, playedSamples, frame}, {type: "recovered", itemId,
//        silentFrames, frame}   `frame`: the context's frame (`currentFrame` count) where
//        the underrun fill began, where sound came back
//   out {type: "underruns", itemId, count, fillFrames}   when an item that had underruns
//        finishes or is dropped: how many, and its frames of underrun fill
//   out {type: "level", rms}   output level 0..1 every `levelMs`; stops after one 0
//   out {type: "error", message}   a malformed message (it is otherwise ignored)
//   out {type: "trace", event: "queued", t, itemId, samples, accepted}   on each push
//   out {type: "trace", event: "silent", t, tInterrupt, itemId, playedSamples}   the first
//        all-silent render block after an interrupt (`tInterrupt`: when it was handled)
//        (trace messages only with the `trace` option; `t` values are `Date.now()`: the
//        worklet scope has no `performance`, so they are wall-clock epoch ms, 1 ms steps)
//   processorOptions: {prebufferMs?: 60, rebufferMs?: 60, progressMs?: 50, levelMs?: 50,
//        growMs?: 40, maxGrowthMs?: 240, calmMs?: 10000, shrinkMs?: 20, trace?: boolean}
//        (the buffer's adaptation: see js/lib/player.js)

/** Names of the helpers the capture worklet needs. */
export const CAPTURE_HELPERS = Object.freeze(["StreamResampler", "Chunker", "floatToPcm16", "rmsLevel"]);

/** Names of the helpers the playback worklet needs. */
export const PLAYBACK_HELPERS = Object.freeze(["StreamResampler", "JitterPlayer", "fromBuffer"]);

/**
 * @typedef {object} WorkletEnv what a processor definition gets from the worklet scope
 * @property {any} AudioWorkletProcessor the worklet's base class
 * @property {(name: string, ctor: Function) => void} registerProcessor
 * @property {number} sampleRate
 * @property {() => number} frameNow the worklet's `currentFrame`, read when called
 * @property {any} [StreamResampler]
 * @property {any} [Chunker]
 * @property {any} [JitterPlayer]
 * @property {(input: ArrayLike<number>, out?: Int16Array) => Int16Array} [floatToPcm16]
 * @property {(data: ArrayBuffer | ArrayBufferView) => Int16Array} [fromBuffer]
 * @property {(samples: Float32Array | Int16Array) => number} [rmsLevel]
 */

/**
 * Defines and registers the `rtw-capture` processor. Runs inside the worklet (its source is
 * injected), where `env` carries the worklet globals and the helpers.
 * @param {WorkletEnv} env
 */
export function defineCaptureProcessor(env) {
  const { AudioWorkletProcessor, registerProcessor, sampleRate } = env;
  const StreamResampler = env.StreamResampler;
  const Chunker = env.Chunker;
  const floatToPcm16 = /** @type {NonNullable<WorkletEnv["floatToPcm16"]>} */ (env.floatToPcm16);
  const rmsLevel = /** @type {NonNullable<WorkletEnv["rmsLevel"]>} */ (env.rmsLevel);
  const rate = Math.round(sampleRate);

  class RtwCaptureProcessor extends AudioWorkletProcessor {
    /**
     * @param {{processorOptions?: {chunkMs?: number, levelMs?: number, trace?: boolean}}}
     *   [options]
     */
    constructor(options) {
      super();
      const opts = (options && options.processorOptions) || {};
      this._chunkMs = opts.chunkMs ?? 80;
      this._trace = opts.trace === true;
      this._resampler = new StreamResampler(rate, 24000);
      this._chunker = new Chunker({ chunkMs: this._chunkMs });
      this._levelFrames = Math.max(1, Math.round(((opts.levelMs ?? 50) * rate) / 1000));
      this._levelSum = 0;
      this._levelCount = 0;
      this._mono = new Float32Array(128);
      this._floats = new Float32Array(256);
      this._pcm = new Int16Array(256);
      this._open = true;
      this.port.onmessage = (/** @type {MessageEvent} */ event) => this._onMessage(event.data);
    }

    /** @param {any} msg */
    _onMessage(msg) {
      const type = msg && msg.type;
      if (type === "flush") {
        this._post(this._chunker.flush());
        this.port.postMessage({ type: "flushed", offset: this._chunker.emitted });
      } else if (type === "reset") {
        this._resampler = new StreamResampler(rate, 24000);
        this._chunker.reset();
      } else if (type === "close") {
        this._open = false;
      } else {
        this.port.postMessage({ type: "error", message: `unknown message type ${String(type)}` });
      }
    }

    /** @param {Int16Array | null} chunk a chunk owning its whole buffer */
    _post(chunk) {
      if (chunk === null) return;
      const offset = this._chunker.emitted - chunk.length;
      const buffer = /** @type {ArrayBuffer} */ (chunk.buffer); // the chunk's own, whole
      /** @type {{type: string, buffer: ArrayBuffer, offset: number, samples: number, t?: number}} */
      const message = { type: "chunk", buffer, offset, samples: chunk.length };
      if (this._trace) message.t = Date.now();
      this.port.postMessage(message, [chunk.buffer]);
    }

    /** @param {Float32Array[][]} inputs */
    process(inputs) {
      if (!this._open) return false;
      const channels = inputs[0];
      if (!channels || channels.length === 0) return true;
      const frames = channels[0].length;
      if (this._mono.length < frames) this._mono = new Float32Array(frames);
      const mono = this._mono.subarray(0, frames);
      mono.set(channels[0]);
      if (channels.length > 1) {
        for (let c = 1; c < channels.length; c++) {
          const ch = channels[c];
          for (let i = 0; i < frames; i++) mono[i] += ch[i];
        }
        const scale = 1 / channels.length;
        for (let i = 0; i < frames; i++) mono[i] *= scale;
      }

      const rms = rmsLevel(mono);
      this._levelSum += rms * rms * frames;
      this._levelCount += frames;
      if (this._levelCount >= this._levelFrames) {
        this.port.postMessage({ type: "level", rms: Math.sqrt(this._levelSum / this._levelCount) });
        this._levelSum = 0;
        this._levelCount = 0;
      }

      this._resampler.push(mono);
      const n = this._resampler.available;
      if (this._floats.length < n) {
        this._floats = new Float32Array(n);
        this._pcm = new Int16Array(n);
      }
      this._resampler.read(this._floats, 0, n);
      const pcm = floatToPcm16(this._floats.subarray(0, n), this._pcm).subarray(0, n);
      for (const chunk of this._chunker.push(pcm)) this._post(chunk);
      return true;
    }
  }

  try {
    registerProcessor("rtw-capture", RtwCaptureProcessor);
  } catch (err) {
    // Already registered in this context by an earlier addModule(): keep that one.
    if (!(err && /** @type {Error} */ (err).name === "NotSupportedError")) throw err;
  }
}

/**
 * Defines and registers the `rtw-playback` processor. Runs inside the worklet (its source is
 * injected), where `env` carries the worklet globals and the helpers.
 * @param {WorkletEnv} env
 */
export function definePlaybackProcessor(env) {
  const { AudioWorkletProcessor, registerProcessor, sampleRate, frameNow } = env;
  const StreamResampler = env.StreamResampler;
  const JitterPlayer = env.JitterPlayer;
  const fromBuffer = /** @type {NonNullable<WorkletEnv["fromBuffer"]>} */ (env.fromBuffer);
  const rate = Math.round(sampleRate);

  class RtwPlaybackProcessor extends AudioWorkletProcessor {
    /**
     * @param {{processorOptions?: {prebufferMs?: number, rebufferMs?: number,
     *   progressMs?: number, levelMs?: number, growMs?: number, maxGrowthMs?: number,
     *   calmMs?: number, shrinkMs?: number, trace?: boolean}}} [options]
     */
    constructor(options) {
      super();
      const opts = (options && options.processorOptions) || {};
      this._player = new JitterPlayer({
        outputRate: rate,
        createResampler: (/** @type {number} */ from, /** @type {number} */ to) =>
          new StreamResampler(from, to),
        prebufferMs: opts.prebufferMs,
        rebufferMs: opts.rebufferMs,
        progressMs: opts.progressMs,
        levelMs: opts.levelMs,
        growMs: opts.growMs,
        maxGrowthMs: opts.maxGrowthMs,
        calmMs: opts.calmMs,
        shrinkMs: opts.shrinkMs,
      });
      this._scratch = new Float32Array(128);
      this._open = true;
      this._trace = opts.trace === true;
      /** @type {{itemId: string | null, playedSamples: number, tInterrupt: number} | null} */
      this._silenceDue = null; // tracing: an interrupt whose first silent block is not yet seen
      this.port.onmessage = (/** @type {MessageEvent} */ event) => this._onMessage(event.data);
    }

    /** @param {any} msg */
    _onMessage(msg) {
      const type = msg && msg.type;
      try {
        if (type === "push") {
          const samples = fromBuffer(msg.buffer);
          const accepted = this._player.push({ itemId: msg.itemId, samples });
          if (this._trace) {
            const trace = { type: "trace", event: "queued", t: Date.now(), itemId: msg.itemId };
            this.port.postMessage({ ...trace, samples: samples.length, accepted });
          }
        } else if (type === "done") {
          this._player.markDone(msg.itemId);
        } else if (type === "interrupt") {
          const { itemId, playedSamples } = this._player.interrupt();
          this.port.postMessage({ type: "interrupted", itemId, playedSamples });
          if (this._trace) this._silenceDue = { itemId, playedSamples, tInterrupt: Date.now() };
        } else if (type === "close") {
          this._open = false;
        } else {
          throw new TypeError(`unknown message type ${String(type)}`);
        }
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.port.postMessage({ type: "error", message });
      }
    }

    /**
     * @param {Float32Array[][]} _inputs
     * @param {Float32Array[][]} outputs
     */
    process(_inputs, outputs) {
      if (!this._open) return false;
      const channels = outputs[0];
      // With no output connected, time still passes: render into scratch.
      const target = channels && channels.length > 0 ? channels[0] : this._scratch;
      // the player counts its own frames; events give the context's
      const origin = frameNow() - this._player.renderedFrames;
      this._player.render(target);
      if (channels) {
        for (let c = 1; c < channels.length; c++) channels[c].set(target);
      }
      for (const event of this._player.takeEvents()) {
        if ("frame" in event) event.frame += origin;
        this.port.postMessage(event);
      }
      if (this._silenceDue !== null) this._traceSilence(target);
      return true;
    }

    /**
     * Tracing: reports the first all-silent block rendered after an interrupt.
     * @param {Float32Array} block
     */
    _traceSilence(block) {
      const due = this._silenceDue;
      if (due === null) return;
      for (let i = 0; i < block.length; i++) if (block[i] !== 0) return;
      this._silenceDue = null;
      this.port.postMessage({ type: "trace", event: "silent", t: Date.now(), ...due });
    }
  }

  try {
    registerProcessor("rtw-playback", RtwPlaybackProcessor);
  } catch (err) {
    if (!(err && /** @type {Error} */ (err).name === "NotSupportedError")) throw err;
  }
}

/**
 * Source of a worklet module registering `rtw-capture`.
 * @param {Record<string, Function>} helpers at least the names in `CAPTURE_HELPERS`
 * @returns {string}
 * @throws {TypeError} when a helper is missing or not a plain declaration
 */
export function captureWorkletSource(helpers) {
  return workletModuleSource(helpers, CAPTURE_HELPERS, [defineCaptureProcessor]);
}

/**
 * Source of a worklet module registering `rtw-playback`.
 * @param {Record<string, Function>} helpers at least the names in `PLAYBACK_HELPERS`
 * @returns {string}
 * @throws {TypeError} when a helper is missing or not a plain declaration
 */
export function playbackWorkletSource(helpers) {
  return workletModuleSource(helpers, PLAYBACK_HELPERS, [definePlaybackProcessor]);
}

/**
 * Source of one worklet module registering both `rtw-capture` and `rtw-playback` (one
 * `addModule()` for a context that both captures and plays).
 * @param {Record<string, Function>} helpers at least the names in both helper lists
 * @returns {string}
 * @throws {TypeError} when a helper is missing or not a plain declaration
 */
export function audioWorkletSource(helpers) {
  const names = [...new Set([...CAPTURE_HELPERS, ...PLAYBACK_HELPERS])];
  return workletModuleSource(helpers, names, [defineCaptureProcessor, definePlaybackProcessor]);
}

/**
 * Assembles a worklet module: each helper's declaration, then each definition called with
 * the worklet globals and the helpers.
 * @param {Record<string, Function>} helpers
 * @param {readonly string[]} names helpers to include
 * @param {Function[]} definitions processor definitions, `(env) => void`
 * @returns {string}
 */
export function workletModuleSource(helpers, names, definitions) {
  const parts = ['"use strict";'];
  for (const name of names) {
    const helper = helpers[name];
    if (typeof helper !== "function") {
      throw new TypeError(`worklet helper ${name} is missing`);
    }
    const text = String(helper);
    const declaration = new RegExp(`^(class|function)\\s+${name}\\b`);
    if (!declaration.test(text)) {
      throw new TypeError(`worklet helper ${name} is not a plain class or function declaration`);
    }
    parts.push(text);
  }
  const env = [
    "AudioWorkletProcessor",
    "registerProcessor",
    "sampleRate",
    "frameNow: () => currentFrame",
    ...names,
  ].join(", ");
  for (const define of definitions) parts.push(`(${String(define)})({ ${env} });`);
  return parts.join("\n\n") + "\n";
}
