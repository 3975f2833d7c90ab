// A stand-in for an AudioWorkletGlobalScope, to run worklet sources in node (not a test file).

import vm from "node:vm";

/**
 * A MessagePort stand-in that records what the processor posts. Messages are structured-cloned
 * both ways, and transferred buffers detached, as between a real node and its processor.
 */
export class FakePort {
  constructor() {
    /** @type {((event: {data: any}) => void) | null} */
    this.onmessage = null;
    /** @type {{message: any, transferred: number, detached: boolean}[]} */
    this.posted = [];
  }

  /**
   * @param {any} message
   * @param {ArrayBuffer[]} [transfer]
   */
  postMessage(message, transfer = []) {
    const copy = structuredClone(message, { transfer });
    this.posted.push({
      message: copy,
      transferred: transfer.length,
      detached: transfer.every((buffer) => buffer.byteLength === 0),
    });
  }

  /** Delivers a message to the processor, as `node.port.postMessage(data)` would. */
  send(data) {
    if (this.onmessage === null) throw new Error("the processor set no onmessage handler");
    this.onmessage({ data: structuredClone(data) });
  }

  /** Messages posted so far with the given type, and forgets nothing. */
  ofType(type) {
    return this.posted.filter((p) => p.message.type === type);
  }
}

/**
 * Evaluates a worklet module source in a fresh context with the worklet globals stubbed.
 * `registry` may be shared between scopes to model two addModule() calls in one context.
 * @param {string} source
 * @param {number} sampleRate
 * @param {Map<string, Function>} [registry]
 * @returns {{registry: Map<string, Function>, context: any,
 *   create: (name: string, options?: object) => any}}
 */
export function evaluateWorklet(source, sampleRate, registry = new Map()) {
  class AudioWorkletProcessor {
    constructor() {
      this.port = new FakePort();
    }
  }
  const registerProcessor = (name, ctor) => {
    if (registry.has(name)) {
      const err = new Error(`processor ${name} is already registered`);
      err.name = "NotSupportedError";
      throw err;
    }
    if (!(ctor.prototype instanceof AudioWorkletProcessor)) {
      throw new TypeError(`${name} does not extend AudioWorkletProcessor`);
    }
    registry.set(name, ctor);
  };
  // Only JavaScript built-ins and the worklet globals: no console, no timers. The test moves
  // `currentFrame` on (`scope.context.currentFrame`) as the audio thread would.
  const context = vm.createContext({
    AudioWorkletProcessor,
    registerProcessor,
    sampleRate,
    currentFrame: 0,
  });
  new vm.Script(source, { filename: "worklet.js" }).runInContext(context);
  return {
    registry,
    context,
    create(name, options = {}) {
      const Ctor = registry.get(name);
      if (Ctor === undefined) throw new Error(`${name} is not registered`);
      return Reflect.construct(Ctor, [options]);
    },
  };
}
