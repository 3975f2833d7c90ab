// A stand-in for anywidget's model in node tests: its state, what is sent through it (with
// buffers), and its handlers, which a test fires as the kernel's messages would arrive.

/**
 * @param {Record<string, any>} [state] the synced traits
 */
export function fakeModel(state = {}) {
  const sent = [];
  const handlers = new Map();
  return {
    state,
    sent,
    get: (name) => state[name],
    set: (name, value) => {
      state[name] = value;
    },
    save_changes() {},
    send: (content, _callbacks, buffers) => sent.push({ content, buffers }),
    on: (name, cb) => handlers.set(name, cb),
    off: (name) => handlers.delete(name),
    fire: (name, ...args) => handlers.get(name)?.(...args),
  };
}
