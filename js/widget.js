// The RealtimeWidget frontend's entry: the anywidget contract.
//
// Assembly (see realtime_widget/widget/frontend.py): the widget's one ES module is js/lib/*.js with
// `export ` stripped (the audio core), then js/widget/*.js as they are (items.js: the item
// store, message checks and labels, pure; mic.js: RtwMic, the microphone and push-to-talk;
// session.js: RtwSession, the kernel's messages and playback; view.js: RtwView, the DOM),
// then this file. anywidget loads the module
// from a blob: URL, where relative imports do not resolve, hence one module. No file has side
// effects at import: node tests import the assembled module (js/tests/widget.test.mjs).
//
// Wire (see realtime_widget/widget/messages.py for the kernel side):
//   kernel -> browser: delta {item_id, field, delta} | audio {item_id} + one buffer |
//     audio_done {item_id} | interrupt | item {item} | item_removed {item_id, rev} |
//     snapshot {items, audio_sent} | mic_check | probe_echo {id, intact} + one buffer;
//     the `items` trait is {rev, items}
//   browser -> kernel: audio + one buffer | interrupted {item_id, played_samples} |
//     played {item_id, played_samples} | stop | text {text} | ptt_start | ptt_stop |
//     connect | disconnect | hello | mic_check | mic_held | probe {id} + one buffer |
//     probe_result {id, intact}
//   Audio goes as base64 `data` instead of a buffer where the host drops buffers (see
//   js/widget/wire.js).
//
// A session outlives its views: the model's `initialize` makes it (or the first `render`),
// each view attaches to it, and the session goes quiet once none is left (see
// js/widget/session.js).

/**
 * Sessions by the widget's `_session_key` trait: anywidget hands `initialize` and each view
 * a different proxy of the same model, so the proxies cannot be the key.
 * @type {Map<string, RtwSession>}
 */
const rtwSessions = new Map();

/**
 * @param {AnyModel} model
 * @returns {string}
 */
function rtwSessionKey(model) {
  const key = model.get("_session_key");
  return typeof key === "string" && key !== "" ? key : "default";
}

/**
 * A new session for `model`, registered under `key` and started.
 * @param {string} key
 * @param {AnyModel} model
 * @returns {RtwSession}
 */
function rtwStartSession(key, model) {
  rtwSessions.get(key)?.dispose();
  const session = new RtwSession(model);
  rtwSessions.set(key, session);
  session.start();
  return session;
}

export default {
  /** @param {{model: AnyModel}} context */
  initialize({ model }) {
    const key = rtwSessionKey(model);
    const session = rtwStartSession(key, model);
    return () => {
      session.dispose();
      if (rtwSessions.get(key) === session) rtwSessions.delete(key);
    };
  },
  /** @param {{model: AnyModel, el: HTMLElement}} context */
  render({ model, el }) {
    const key = rtwSessionKey(model);
    const session = rtwSessions.get(key) ?? rtwStartSession(key, model);
    const view = new RtwView(session, model, el);
    session.attachView();
    return () => {
      view.dispose();
      session.detachView();
    };
  },
};
