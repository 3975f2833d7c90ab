// The widget module as the kernel assembles it (js/lib with `export ` stripped, then
// js/widget/*.js and widget.js as they are), imported in node: its pure view logic, its
// message checks, the session's audio engine on a stand-in Web Audio, and the rule that no
// text is ever parsed as HTML.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";

import { JS, WIDGET_PARTS as PARTS, assembleWidget as assemble } from "./assembly.mjs";
import { installDocument } from "./fakedom.mjs";
import { fakeModel } from "./fakemodel.mjs";

const WIDGET = PARTS.map((file) => readFileSync(file, "utf8")).join("\n");

let w;
const dir = mkdtempSync(path.join(tmpdir(), "rtw-widget-"));
before(async () => {
  const file = path.join(dir, "widget-bundle.mjs");
  writeFileSync(file, assemble());
  w = await import(pathToFileURL(file).href);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A model whose set() fires change events, as anywidget's does. */
function liveModel(state) {
  const handlers = new Map();
  const sent = [];
  const fire = (name, ...args) => {
    for (const cb of handlers.get(name) ?? []) cb(...args);
  };
  return {
    sent,
    state,
    get: (name) => state[name],
    set: (name, value) => {
      const changed = state[name] !== value;
      state[name] = value;
      if (changed) fire(`change:${name}`);
    },
    save_changes() {},
    send: (content, _callbacks, buffers) => sent.push({ content, buffers }),
    on: (name, cb) => handlers.set(name, [...(handlers.get(name) ?? []), cb]),
    off: (name, cb) => handlers.set(name, (handlers.get(name) ?? []).filter((h) => h !== cb)),
    fire,
    types: () => sent.map((m) => m.content.type),
  };
}

function summary(fields) {
  return { id: "item_1", type: "message", role: "assistant", status: "in_progress", ...fields };
}

describe("the assembled module", () => {
  it("has the anywidget contract and no side effects at import", () => {
    assert.equal(typeof w.default.initialize, "function");
    assert.equal(typeof w.default.render, "function");
    assert.equal(typeof globalThis.document, "undefined", "importing needed no DOM");
  });

  it("never parses text as HTML", () => {
    assert.doesNotMatch(WIDGET, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser/);
  });

  it("widget files have no imports and declare each top-level name once", () => {
    for (const file of PARTS) {
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(text, /^\s*import[\s{*]|\bimport\s*\(|import\.meta|\brequire\s*\(/m, file);
    }
    const names = [...WIDGET.matchAll(/^(?:export )?(?:function|class|const|let) ([A-Za-z_$][\w$]*)/gm)].map(
      (m) => m[1],
    );
    assert.deepEqual(names, [...new Set(names)]);
  });

  it("declares no top-level name that a lib file declares", () => {
    const libNames = new Set(
      readdirSync(path.join(JS, "lib"))
        .filter((n) => n.endsWith(".js"))
        .flatMap((n) => [
          ...readFileSync(path.join(JS, "lib", n), "utf8").matchAll(
            /^export (?:function|class|const) ([A-Za-z_$][\w$]*)/gm,
          ),
        ])
        .map((m) => m[1]),
    );
    const own = [...WIDGET.matchAll(/^(?:export )?(?:function|class|const|let) ([A-Za-z_$][\w$]*)/gm)].map(
      (m) => m[1],
    );
    assert.ok(own.length > 10);
    for (const name of own) assert.ok(!libNames.has(name), `${name} clashes with js/lib`);
  });
});

describe("item store", () => {
  const state = (rev, items) => ({ rev, items });

  it("takes the items trait in order, reports changes and removals", () => {
    const store = w.createItemStore();
    let result = w.applySummaries(store, state(2, [summary({ id: "a", text: "hi", rev: 1 }), summary({ id: "b", rev: 2 })]));
    assert.deepEqual(result, { changed: ["a", "b"], removed: [], reordered: false });
    assert.deepEqual(store.order, ["a", "b"]);
    result = w.applySummaries(store, state(4, [summary({ id: "b", rev: 2 }), summary({ id: "c", role: "user", rev: 4 })]));
    assert.deepEqual(result, { changed: ["c"], removed: ["a"], reordered: false });
    assert.deepEqual(store.order, ["b", "c"]);
    assert.equal(store.items.get("c").role, "user");
    result = w.applySummaries(store, state(5, [summary({ id: "c", role: "user", rev: 4 }), summary({ id: "b", rev: 2 })]));
    assert.deepEqual(result, { changed: [], removed: [], reordered: true });
    assert.deepEqual(store.order, ["c", "b"]);
  });

  it("takes a bare list (an older saved state) as it is", () => {
    const store = w.createItemStore();
    w.applyItemSummary(store, summary({ id: "x", rev: 9 }));
    const result = w.applySummaries(store, [summary({ id: "a" })]);
    assert.deepEqual(result, { changed: ["a"], removed: ["x"], reordered: false });
  });

  it("normalizes fields and skips entries without an id or repeated", () => {
    const store = w.createItemStore();
    w.applySummaries(store, state(1, [
      { id: "x", text: 5, audio_ms: -1, tool_state: "weird", tool_ms: 12, rev: -3 },
      { text: "no id" },
      null,
      { id: "x", text: "again" },
    ]));
    assert.deepEqual(store.order, ["x"]);
    const item = store.items.get("x");
    assert.equal(item.text, "");
    assert.equal(item.audio_ms, 0);
    assert.equal(item.tool_state, null);
    assert.equal(item.tool_ms, 12);
    assert.equal(item.truncated_ms, null);
    assert.equal(item.rev, 0);
  });

  it("appends deltas to their field, creating a placeholder for an unknown item", () => {
    const store = w.createItemStore();
    w.applySummaries(store, state(1, [summary({ id: "a", transcript: "Hel", rev: 1 })]));
    w.applyDelta(store, { item_id: "a", field: "transcript", delta: "lo" });
    assert.equal(store.items.get("a").transcript, "Hello");
    const call = w.applyDelta(store, { item_id: "f", field: "arguments", delta: '{"c' });
    assert.equal(call.type, "function_call");
    assert.equal(call.rev, 0);
    w.applyDelta(store, { item_id: "f", field: "arguments", delta: 'ity": "Paris"}' });
    assert.equal(store.items.get("f").arguments, '{"city": "Paris"}');
    assert.deepEqual(store.order, ["a", "f"]);
  });

  it("an item message replaces a summary of the same or a lower revision, never a newer one", () => {
    const store = w.createItemStore();
    w.applySummaries(store, state(3, [summary({ id: "a", transcript: "x", rev: 3 })]));
    assert.ok(w.applyItemSummary(store, summary({ id: "a", transcript: "xyz", status: "completed", rev: 5 })));
    assert.equal(store.items.get("a").status, "completed");
    assert.equal(w.applyItemSummary(store, summary({ id: "a", transcript: "x", rev: 4 })), null, "older");
    assert.equal(store.items.get("a").transcript, "xyz");
    assert.ok(w.applyItemSummary(store, summary({ id: "a", transcript: "xyz!", status: "completed", rev: 5 })));
    assert.equal(store.items.get("a").transcript, "xyz!", "the same revision with more streamed text");
    assert.equal(w.applyItemSummary(store, { nope: 1 }), null);
    w.applyItemSummary(store, summary({ id: "b", rev: 6 }));
    assert.deepEqual(store.order, ["a", "b"]);
  });

  it("a trait state taken before an item message cannot undo it, whatever the order they come in", () => {
    const store = w.createItemStore();
    w.applySummaries(store, state(3, [summary({ id: "a", rev: 2 }), summary({ id: "b", rev: 3 })]));
    // the kernel: b completes (rev 4), c is appended (rev 5); a state taken at rev 3 arrives late
    w.applyItemSummary(store, summary({ id: "b", status: "completed", transcript: "done", rev: 4 }));
    w.applyItemSummary(store, summary({ id: "c", rev: 5 }));
    w.applyDelta(store, { item_id: "c", field: "transcript", delta: "streaming" });
    let result = w.applySummaries(store, state(3, [summary({ id: "a", rev: 2 }), summary({ id: "b", rev: 3 })]));
    assert.deepEqual(result, { changed: [], removed: [], reordered: false });
    assert.deepEqual(store.order, ["a", "b", "c"], "c arrived after the state was taken: kept");
    assert.equal(store.items.get("b").status, "completed");
    // a state taken later, with c as appended: equal revisions keep the streamed text
    result = w.applySummaries(store, state(5, [summary({ id: "a", rev: 2 }), summary({ id: "b", status: "completed", transcript: "done", rev: 4 }), summary({ id: "c", rev: 5 })]));
    assert.deepEqual(result, { changed: [], removed: [], reordered: false });
    assert.equal(store.items.get("c").transcript, "streaming");
    // one that lists c no more (deleted, its removal not seen here): removed
    result = w.applySummaries(store, state(6, [summary({ id: "a", rev: 2 }), summary({ id: "b", status: "completed", transcript: "done", rev: 4 })]));
    assert.deepEqual(result.removed, ["c"]);
  });

  it("a removal is at once, and an older summary or state cannot bring the item back", () => {
    const store = w.createItemStore();
    w.applySummaries(store, state(3, [summary({ id: "a", rev: 1 }), summary({ id: "b", rev: 2 }), summary({ id: "c", rev: 3 })]));
    assert.equal(w.removeItem(store, "b", 4), true);
    assert.deepEqual(store.order, ["a", "c"]);
    assert.equal(w.removeItem(store, "b", 4), false, "not held any more");
    assert.equal(w.applyItemSummary(store, summary({ id: "b", rev: 2 })), null);
    assert.equal(w.applyDelta(store, { item_id: "b", field: "text", delta: "late" }), null);
    let result = w.applySummaries(store, state(3, [summary({ id: "a", rev: 1 }), summary({ id: "b", rev: 2 }), summary({ id: "c", rev: 3 })]));
    assert.deepEqual(result, { changed: [], removed: [], reordered: false });
    assert.deepEqual(store.order, ["a", "c"]);
    result = w.applySummaries(store, state(4, [summary({ id: "a", rev: 1 }), summary({ id: "c", rev: 3 })]));
    assert.equal(store.removed.has("b"), false, "forgotten once a state taken after it came");
    // an item made again after its removal is taken
    assert.ok(w.applyItemSummary(store, summary({ id: "b", rev: 7 })));
    // a removal older than the summary held is ignored
    assert.equal(w.removeItem(store, "b", 6), false);
    assert.deepEqual(store.order, ["a", "c", "b"]);
  });

  it("finds a function call by its call_id", () => {
    const store = w.createItemStore();
    w.applySummaries(store, state(2, [
      { id: "f", type: "function_call", call_id: "c1", rev: 1 },
      { id: "o", type: "function_call_output", call_id: "c1", rev: 2 },
    ]));
    assert.equal(w.callOf(store, "c1").id, "f");
    assert.equal(w.callOf(store, "c2"), undefined);
    w.removeItem(store, "f", 3);
    assert.equal(w.callOf(store, "c1"), undefined);
  });
});

describe("kernel messages", () => {
  it("accepts the documented shapes", () => {
    const dv = new DataView(new ArrayBuffer(8));
    assert.deepEqual(w.parseKernelMessage({ type: "delta", item_id: "a", field: "text", delta: "x" }), {
      type: "delta",
      item_id: "a",
      field: "text",
      delta: "x",
    });
    const audio = w.parseKernelMessage({ type: "audio", item_id: "a" }, [dv]);
    assert.deepEqual([audio.type, audio.item_id, audio.data.byteLength], ["audio", "a", 8]);
    assert.ok(audio.data instanceof ArrayBuffer && audio.data !== dv.buffer, "a view's bytes, copied");
    const text = w.parseKernelMessage({ type: "audio", item_id: "a", data: "AQACAA==" });
    assert.deepEqual(Array.from(new Int16Array(text.data)), [1, 2]);
    assert.deepEqual(w.parseKernelMessage({ type: "probe_echo", id: "p", intact: true }), {
      type: "probe_echo",
      id: "p",
      intact: true,
    });
    assert.deepEqual(w.parseKernelMessage({ type: "audio_done", item_id: "a" }), { type: "audio_done", item_id: "a" });
    assert.deepEqual(w.parseKernelMessage({ type: "interrupt" }), { type: "interrupt" });
    assert.equal(w.parseKernelMessage({ type: "item", item: summary({}) }).type, "item");
    assert.deepEqual(w.parseKernelMessage({ type: "item_removed", item_id: "a", rev: 4 }), {
      type: "item_removed",
      item_id: "a",
      rev: 4,
    });
    assert.equal(w.parseKernelMessage({ type: "snapshot", items: [] }).type, "snapshot");
  });

  it("rejects malformed ones", () => {
    for (const [msg, buffers] of [
      [null, []],
      [{ type: "delta", item_id: "a", field: "audio", delta: "x" }],
      [{ type: "delta", item_id: "", field: "text", delta: "x" }],
      [{ type: "delta", item_id: "a", field: "text", delta: 3 }],
      [{ type: "audio", item_id: "a" }, []],
      [{ type: "audio", item_id: "a" }, ["text"]],
      [{ type: "audio", item_id: "a", data: "not base64!" }, []],
      [{ type: "item_audio", item_id: "a" }, []],
      [{ type: "probe_echo", intact: true }],
      [{ type: "audio_done" }],
      [{ type: "item", item: { id: 3 } }],
      [{ type: "item_removed", item_id: "a" }],
      [{ type: "item_removed", item_id: "a", rev: -1 }],
      [{ type: "item_removed", rev: 2 }],
      [{ type: "snapshot", items: "no" }],
      [{ type: "surprise" }],
    ]) {
      assert.equal(w.parseKernelMessage(msg, buffers ?? []), null, JSON.stringify(msg));
    }
  });
});

describe("labels", () => {
  it("formats durations", () => {
    assert.equal(w.formatDuration(0), "0 ms");
    assert.equal(w.formatDuration(850), "850 ms");
    assert.equal(w.formatDuration(2349), "2.3 s");
    assert.equal(w.formatDuration(59999), "59.9 s");
    assert.equal(w.formatDuration(65000), "1 min 05 s");
    assert.equal(w.formatDuration(null), "");
    assert.equal(w.formatDuration(-5), "");
  });

  it("maps levels to meter widths on a -60..0 dB scale", () => {
    assert.equal(w.meterPercent(0), 0);
    assert.equal(w.meterPercent(1), 100);
    assert.equal(w.meterPercent(0.001), 0);
    assert.equal(w.meterPercent(Math.pow(10, -30 / 20)), 50);
  });

  it("describes messages, tool calls and outputs", () => {
    const store = w.createItemStore();
    w.applySummaries(store, [
      summary({ id: "u", role: "user", status: "completed", audio_ms: 2300 }),
      summary({ id: "a", status: "incomplete", transcript: "Hi", audio_ms: 900, truncated_ms: 640 }),
      { id: "f", type: "function_call", name: "get_weather", call_id: "c1", tool_state: "done", tool_ms: 12 },
      { id: "o", type: "function_call_output", call_id: "c1", output: "{}" },
      { id: "o2", type: "function_call_output", call_id: "c9", output: "{}" },
      summary({ id: "p", status: "in_progress" }),
    ]);
    const d = (id) => w.describeItem(store.items.get(id), store);
    assert.deepEqual(d("u"), { kind: "message", label: "You", notes: ["audio 2.3 s"], placeholder: "(speech)" });
    // an interrupted answer says how much of it was heard, a finished one how long it was
    assert.deepEqual(d("a").notes, ["interrupted after 640 ms of 900 ms"]);
    const cut = { ...store.items.get("a"), audio_ms: 640, full_ms: 1700 };
    assert.deepEqual(w.describeItem(cut, store).notes, ["interrupted after 640 ms of 1.7 s"]);
    const done = { ...store.items.get("a"), status: "completed", truncated_ms: null, audio_ms: 1700 };
    assert.deepEqual(w.describeItem(done, store).notes, ["finished, 1.7 s"]);
    assert.deepEqual(d("f"), { kind: "tool", label: "get_weather", notes: ["done", "12 ms"], placeholder: "" });
    assert.equal(d("o").kind, "hidden");
    assert.equal(d("o2").kind, "output");
    assert.equal(d("p").placeholder, "…");
    const failed = { ...store.items.get("f"), tool_state: "error" };
    assert.deepEqual(w.describeItem(failed, store).notes, ["failed", "12 ms"]);
  });

  it("describes MCP calls, approval requests and tool lists", () => {
    const store = w.createItemStore();
    w.applySummaries(store, [
      { id: "l", type: "mcp_list_tools", server_label: "docs", status: "completed" },
      { id: "q", type: "mcp_approval_request", server_label: "docs", name: "add", approval: "pending" },
      { id: "r", type: "mcp_approval_response" },
      { id: "m", type: "mcp_call", server_label: "docs", name: "add", tool_state: "done", tool_ms: 30 },
      { id: "x", type: "mcp_approval_request", name: "add", approval: "maybe" },
    ]);
    const d = (id) => w.describeItem(store.items.get(id), store);
    assert.deepEqual(d("l"), { kind: "output", label: "MCP tools of docs", notes: ["listed"], placeholder: "" });
    assert.deepEqual(d("q"), { kind: "tool", label: "docs · add", notes: ["waiting for approval"], placeholder: "" });
    assert.equal(d("r").kind, "hidden");
    assert.deepEqual(d("m"), { kind: "tool", label: "docs · add", notes: ["done", "30 ms"], placeholder: "" });
    assert.equal(store.items.get("x").approval, "");
    assert.deepEqual(d("x").notes, ["approval asked"]);
  });

  it("captions the user's messages only", () => {
    const store = w.createItemStore();
    w.applySummaries(store, [
      summary({ id: "u", role: "user", status: "in_progress", transcript: "Hel" }),
      summary({ id: "a", transcript: "Hi" }),
      { id: "f", type: "function_call", name: "get_weather", call_id: "c1" },
    ]);
    const c = (id) => w.describeCaption(store.items.get(id), store);
    assert.deepEqual(c("u"), w.describeItem(store.items.get("u"), store));
    assert.equal(c("u").kind, "message");
    assert.deepEqual(c("a"), { kind: "hidden", label: "", notes: [], placeholder: "" });
    assert.equal(c("f").kind, "hidden");
  });
});

describe("microphone states", () => {
  const ok = {
    isSecureContext: true,
    mediaDevices: { getUserMedia() {} },
    AudioContext: function () {},
    AudioWorkletNode: function () {},
  };

  it("says why the mic cannot be used", () => {
    assert.equal(w.micUnsupportedReason(ok), null);
    assert.match(w.micUnsupportedReason({ ...ok, isSecureContext: false }), /secure/);
    assert.match(w.micUnsupportedReason({ ...ok, mediaDevices: undefined }), /media devices/);
    assert.match(w.micUnsupportedReason({ ...ok, AudioWorkletNode: undefined }), /AudioWorklet/);
  });

  it("maps getUserMedia failures to mic states", () => {
    const named = (name, message = "") => Object.assign(new Error(message), { name });
    assert.equal(w.micErrorState(named("NotAllowedError")).mic, "denied");
    assert.equal(w.micErrorState(named("SecurityError")).mic, "denied");
    assert.match(w.micErrorState(named("NotAllowedError")).message, /denied/);
    assert.match(w.micErrorState(named("NotFoundError")).message, /No microphone/);
    assert.match(w.micErrorState(named("NotReadableError")).message, /busy/);
    assert.match(w.micErrorState(named("TypeError", "odd")).message, /: odd$/);
  });

  it("throttles played reports per item", () => {
    assert.equal(w.playedReportDue(undefined, 0), true);
    assert.equal(w.playedReportDue(1000, 1100), false);
    assert.equal(w.playedReportDue(1000, 1200), true);
    assert.equal(w.playedReportDue(1000, 1050, 50), true);
  });
});

describe("the session without a browser", () => {
  it("says hello, asks who holds a mic that reads on, and applies kernel messages to its store", () => {
    const model = fakeModel({ items: [summary({ id: "a" })], mic: "on", connection: "connected" });
    const session = new w.RtwSession(model);
    const events = [];
    session.subscribe((e) => events.push(e));
    session.start();
    assert.deepEqual(
      model.sent.map((m) => m.content),
      [{ type: "probe", id: session.wire.id }, { type: "hello" }, { type: "mic_check" }],
    );
    assert.equal(model.sent[0].buffers[0].byteLength, 256, "the probe carries its bytes");
    assert.equal(model.state.mic, "on", "another page may be capturing: the trait is left alone");
    model.fire("msg:custom", { type: "mic_check" });
    assert.equal(model.sent.length, 3, "a page that does not capture does not claim the mic");
    model.fire("msg:custom", { type: "delta", item_id: "a", field: "transcript", delta: "Hi" });
    assert.equal(session.store.items.get("a").transcript, "Hi");
    model.fire("msg:custom", { type: "snapshot", items: [summary({ id: "b", text: "in flight" })] });
    assert.deepEqual(session.store.order, ["a", "b"]);
    model.fire("msg:custom", { type: "bogus" });
    assert.deepEqual(
      events.map((e) => e.kind),
      ["delta", "items"],
    );
  });

  it("answers an interrupt with nothing played when it has no audio engine", () => {
    const model = fakeModel({ items: [], mic: "off", connection: "connected" });
    const session = new w.RtwSession(model);
    session.start();
    // Audio arrives before any engine: it waits (the engine fails to start in node).
    model.fire("msg:custom", { type: "audio", item_id: "a" }, [new DataView(new ArrayBuffer(4))]);
    assert.equal(session.pending.length, 1);
    model.fire("msg:custom", { type: "interrupt" });
    assert.equal(session.pending.length, 0);
    assert.deepEqual(model.sent.at(-1).content, { type: "interrupted", item_id: null, played_samples: 0 });
    session.stop();
    assert.deepEqual(model.sent.at(-1).content, { type: "stop" });
  });

  it("sends captured audio only when connected with the mic on, and in manual turns only during push-to-talk", () => {
    const model = fakeModel({ items: [], mic: "on", connection: "connected", turn_detection: "server_vad" });
    const session = new w.RtwSession(model);
    const chunk = () => ({ type: "chunk", buffer: new ArrayBuffer(3840), offset: 0, samples: 1920 });
    session.wire.toKernel = "binary"; // as the probe's echo says in a host that keeps buffers
    session.mic._onCaptureMessage(chunk());
    assert.equal(model.sent.at(-1).content.type, "audio");
    assert.equal(model.sent.at(-1).buffers[0].byteLength, 3840);
    model.state.turn_detection = "manual";
    const before = model.sent.length;
    session.mic._onCaptureMessage(chunk());
    assert.equal(model.sent.length, before, "manual turns send nothing while the button is up");
    session.mic.pttPress();
    assert.deepEqual(model.sent.at(-1).content, { type: "ptt_start" });
    session.mic._onCaptureMessage(chunk());
    assert.equal(model.sent.at(-1).content.type, "audio");
    session.mic.pttRelease(); // no capture node here: ptt_stop at once
    assert.deepEqual(model.sent.at(-1).content, { type: "ptt_stop" });
    model.state.connection = "disconnected";
    model.state.turn_detection = "server_vad";
    const count = model.sent.length;
    session.mic._onCaptureMessage(chunk());
    assert.equal(model.sent.length, count);
  });
});

describe("the audio engine with a stand-in Web Audio", () => {
  /** Records what the engine does with the AudioContext and its nodes. */
  function installFakeAudio(initialState) {
    const log = { contexts: [], nodes: [], modules: [], resumed: 0, closed: 0, revoked: [] };
    class FakePort {
      constructor() {
        this.posted = [];
        this.onmessage = null;
      }
      postMessage(message, transfer = []) {
        this.posted.push({ message, transfer });
      }
    }
    class FakeNode {
      constructor(ctx, name, options) {
        Object.assign(this, { ctx, name, options, port: new FakePort(), connected: [] });
        log.nodes.push(this);
      }
      connect(target) {
        this.connected.push(target);
      }
      disconnect() {
        this.connected = [];
      }
    }
    class FakeContext {
      constructor(options) {
        this.options = options;
        this.state = initialState;
        this.sampleRate = 44100; // the fake microphone's, as in Chromium
        this.destination = { name: "destination" };
        this.audioWorklet = { addModule: async (url) => log.modules.push(url) };
        log.contexts.push(this);
      }
      createGain() {
        const gain = new FakeNode(this, "gain");
        gain.gain = { value: 1 };
        return gain;
      }
      async resume() {
        log.resumed += 1;
        this.state = "running";
      }
      async close() {
        log.closed += 1;
        this.state = "closed";
      }
    }
    const saved = {
      AudioContext: globalThis.AudioContext,
      AudioWorkletNode: globalThis.AudioWorkletNode,
      revoke: URL.revokeObjectURL,
    };
    globalThis.AudioContext = FakeContext;
    globalThis.AudioWorkletNode = FakeNode;
    URL.revokeObjectURL = (url) => log.revoked.push(url);
    log.restore = () => {
      globalThis.AudioContext = saved.AudioContext;
      globalThis.AudioWorkletNode = saved.AudioWorkletNode;
      URL.revokeObjectURL = saved.revoke;
    };
    return log;
  }

  it("starts once on demand, plays audio that came early, and forwards what the player says", async () => {
    const audio = installFakeAudio("running");
    try {
      const m = fakeModel({ items: [], mic: "off", connection: "connected" });
      const session = new w.RtwSession(m);
      session.start();
      const pcm = new Int16Array([1, 2, 3, 4]);
      const view = new DataView(pcm.buffer, 0, 8);
      m.fire("msg:custom", { type: "audio", item_id: "a" }, [view]);
      m.fire("msg:custom", { type: "audio_done", item_id: "a" });
      await session.audioReady;
      await session.ensureAudio();
      assert.equal(audio.contexts.length, 1, "one AudioContext");
      assert.equal(audio.contexts[0].options, undefined, "the device's own sample rate");
      assert.equal(audio.modules.length, 1);
      assert.match(audio.modules[0], /^blob:/);
      const player = audio.nodes.find((n) => n.name === "rtw-playback");
      // the player plays through the output volume, a GainNode to the speakers
      const [volume] = player.connected;
      assert.equal(volume.name, "gain");
      assert.deepEqual(volume.connected, [audio.contexts[0].destination]);
      assert.equal(volume.gain.value, 1);
      session.setVolume(0.25);
      assert.equal(volume.gain.value, 0.25);
      const [push, done] = player.port.posted.map((p) => p.message);
      assert.equal(push.type, "push");
      assert.deepEqual([...new Int16Array(push.buffer)], [1, 2, 3, 4]);
      assert.deepEqual(done, { type: "done", itemId: "a" });

      player.port.onmessage({ data: { type: "started", itemId: "a" } });
      player.port.onmessage({ data: { type: "played", itemId: "a", playedSamples: 2 } });
      player.port.onmessage({ data: { type: "played", itemId: "a", playedSamples: 3 } }); // throttled
      player.port.onmessage({ data: { type: "finished", itemId: "a", playedSamples: 4 } });
      const played = m.sent.filter((s) => s.content.type === "played").map((s) => s.content);
      assert.deepEqual(played, [
        { type: "played", item_id: "a", played_samples: 2 },
        { type: "played", item_id: "a", played_samples: 4 },
      ]);
      // an item's underruns, their fill in 24 kHz samples as played_samples counts
      player.port.onmessage({ data: { type: "underruns", itemId: "a", count: 2, fillFrames: 4410 } });
      const underruns = { type: "underruns", item_id: "a", count: 2, fill_samples: 2400 };
      assert.deepEqual(m.sent.at(-1).content, underruns);

      m.fire("msg:custom", { type: "interrupt" });
      assert.deepEqual(player.port.posted.at(-1).message, { type: "interrupt" });
      player.port.onmessage({ data: { type: "interrupted", itemId: "b", playedSamples: 480 } });
      assert.deepEqual(m.sent.at(-1).content, { type: "interrupted", item_id: "b", played_samples: 480 });
      session.stop(); // with a player, Stop interrupts playback
      assert.deepEqual(player.port.posted.at(-1).message, { type: "interrupt" });

      session.dispose();
      assert.equal(audio.closed, 1);
      assert.deepEqual(audio.revoked, [audio.modules[0]]);
      assert.deepEqual(player.port.posted.at(-1).message, { type: "close" });
    } finally {
      audio.restore();
    }
  });

  it("resumes a context the browser suspended when asked again (a click)", async () => {
    const audio = installFakeAudio("suspended");
    try {
      const session = new w.RtwSession(fakeModel({ items: [], mic: "off", connection: "connected" }));
      await session.ensureAudio();
      assert.equal(audio.resumed, 0);
      assert.equal(session.ctx.state, "suspended");
      await session.ensureAudio();
      assert.equal(audio.resumed, 1);
      assert.equal(session.ctx.state, "running");
      session.dispose();
    } finally {
      audio.restore();
    }
  });
});

describe("the microphone, push-to-talk and views with a stand-in Web Audio", () => {
  /**
   * A stand-in Web Audio and getUserMedia: `failSource` makes createMediaStreamSource throw
   * what Firefox throws for a microphone whose rate differs from the context's.
   */
  function installMic({ failSource = false } = {}) {
    const log = { nodes: [], tracks: [], gets: 0 };
    class Port {
      constructor() {
        this.posted = [];
        this.onmessage = null;
      }
      postMessage(message) {
        this.posted.push(message);
      }
    }
    class Node {
      constructor(ctx, name) {
        Object.assign(this, { ctx, name, port: new Port(), connected: [], disconnects: 0 });
        log.nodes.push(this);
      }
      connect(target) {
        this.connected.push(target);
      }
      disconnect() {
        this.disconnects += 1;
        this.connected = [];
      }
    }
    class Context {
      constructor() {
        this.state = "running";
        this.destination = { name: "destination" };
        this.audioWorklet = { addModule: async () => {} };
      }
      createMediaStreamSource() {
        if (failSource) {
          const message = "Connecting AudioNodes from AudioContexts with different sample-rate is currently not supported.";
          throw Object.assign(new Error(message), { name: "NotSupportedError" });
        }
        return new Node(this, "source");
      }
      createGain() {
        const gain = new Node(this, "gain");
        gain.gain = { value: 1 };
        return gain;
      }
      async resume() {}
      async close() {}
    }
    const saved = {
      AudioContext: globalThis.AudioContext,
      AudioWorkletNode: globalThis.AudioWorkletNode,
      navigator: Object.getOwnPropertyDescriptor(globalThis, "navigator"),
      isSecureContext: globalThis.isSecureContext,
    };
    globalThis.AudioContext = Context;
    globalThis.AudioWorkletNode = Node;
    globalThis.isSecureContext = true;
    const getUserMedia = async () => {
      log.gets += 1;
      const track = { stopped: false, stop() { this.stopped = true; }, addEventListener() {} };
      log.tracks.push(track);
      return { getTracks: () => [track], getAudioTracks: () => [track] };
    };
    Object.defineProperty(globalThis, "navigator", {
      value: { mediaDevices: { getUserMedia } },
      configurable: true,
      writable: true,
    });
    log.capture = () => log.nodes.filter((n) => n.name === "rtw-capture").at(-1);
    log.player = () => log.nodes.find((n) => n.name === "rtw-playback");
    log.restore = () => {
      globalThis.AudioContext = saved.AudioContext;
      globalThis.AudioWorkletNode = saved.AudioWorkletNode;
      globalThis.isSecureContext = saved.isSecureContext;
      if (saved.navigator) Object.defineProperty(globalThis, "navigator", saved.navigator);
      else delete globalThis.navigator;
    };
    return log;
  }

  const connected = (extra = {}) => ({
    items: [],
    mic: "off",
    connection: "connected",
    turn_detection: "server_vad",
    ...extra,
  });

  it("a microphone the audio engine refuses ends unsupported, released, with a message", async () => {
    const audio = installMic({ failSource: true });
    try {
      const m = liveModel(connected());
      const session = new w.RtwSession(m);
      session.start();
      await session.mic.start(); // resolves: nothing is left unhandled
      assert.equal(m.state.mic, "unsupported");
      assert.equal(audio.tracks.length, 1);
      assert.equal(audio.tracks[0].stopped, true, "the device is released");
      assert.match(session.mic.message, /cannot connect the microphone.*different sample-rate/);
      assert.equal(session.mic.node, null);
      assert.equal(session.mic.starting, false);
      await session.mic.start(); // a second click tries again
      assert.equal(audio.gets, 2);
      assert.equal(m.state.mic, "unsupported");
      assert.equal(audio.tracks[1].stopped, true);
      session.dispose();
    } finally {
      audio.restore();
    }
  });

  it("stopping the mic while the push-to-talk button is held ends the turn", async () => {
    const audio = installMic();
    try {
      const m = liveModel(connected({ turn_detection: "manual" }));
      const session = new w.RtwSession(m);
      session.start();
      await session.mic.start();
      assert.equal(m.state.mic, "on");
      session.mic.pttPress();
      session.mic.stop();
      assert.deepEqual(m.types().filter((t) => t.startsWith("ptt")), ["ptt_start", "ptt_stop"]);
      assert.equal(m.state.mic, "off");
      assert.equal(audio.tracks[0].stopped, true);

      // Released, then the mic stopped before the capture node answered the flush.
      await session.mic.start();
      session.mic.pttPress();
      session.mic.pttRelease();
      assert.deepEqual(audio.capture().port.posted.at(-1), { type: "flush" });
      session.mic.stop();
      audio.capture().port.onmessage?.({ data: { type: "flushed", offset: 0 } }); // too late: detached
      assert.deepEqual(
        m.types().filter((t) => t.startsWith("ptt")),
        ["ptt_start", "ptt_stop", "ptt_start", "ptt_stop"],
        "exactly one ptt_stop per turn",
      );
      session.dispose();
    } finally {
      audio.restore();
    }
  });

  it("a capturing page stops when another page turns the shared mic off, and answers mic checks", async () => {
    const audio = installMic();
    try {
      const m = liveModel(connected());
      const session = new w.RtwSession(m);
      session.start();
      await session.mic.start();
      m.fire("msg:custom", { type: "mic_check" });
      assert.equal(m.types().at(-1), "mic_held");
      m.set("mic", "off"); // another page's Mic button
      assert.equal(audio.tracks[0].stopped, true);
      assert.equal(session.mic.node, null);
      assert.equal(m.state.mic, "off");
      await session.mic.start(); // and this page's button starts it again
      assert.equal(m.state.mic, "on");
      assert.ok(session.mic.node !== null);
      session.dispose();
    } finally {
      audio.restore();
    }
  });

  it("a reconnect keeps the mic open; a final error or a disconnect closes it", async () => {
    const audio = installMic();
    try {
      const m = liveModel(connected());
      const session = new w.RtwSession(m);
      session.start();
      await session.mic.start();
      m.set("connection", "reconnecting");
      assert.equal(m.state.mic, "on");
      assert.equal(session.mic.sending, false, "nothing is sent while the connection is down");
      m.set("connection", "connected");
      assert.equal(session.mic.sending, true);
      m.set("connection", "error");
      assert.equal(m.state.mic, "off");
      assert.equal(audio.tracks[0].stopped, true);
      m.set("connection", "connected");
      await session.mic.start();
      m.set("connection", "disconnected");
      assert.equal(audio.tracks[1].stopped, true);
      session.dispose();
    } finally {
      audio.restore();
    }
  });

  it("the page writes only the traits it owns: mic, turn_detection, and error cleared", async () => {
    // The kernel refuses any other write from a page (RealtimeWidget.set_state, _PAGE_SETS):
    // every control of a real view and session is used, and each write recorded.
    const audio = installMic();
    const dom = installDocument();
    try {
      const m = liveModel(connected({ error: "a failure", tools: [] }));
      const writes = [];
      const set = m.set;
      m.set = (name, value) => {
        writes.push([name, value]);
        set(name, value);
      };
      const session = new w.RtwSession(m);
      session.start();
      const el = document.createElement("div");
      document.body.append(el);
      const view = new w.RtwView(session, m, el);
      session.attachView();
      view.micButton.dispatch("click");
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(m.state.mic, "on");
      m.fire("msg:custom", { type: "mic_check" });
      view.micButton.dispatch("click"); // off again
      for (const mode of ["manual", "semantic_vad", "server_vad"]) {
        view.turnSelect.value = mode;
        view.turnSelect.dispatch("change");
      }
      view.turnSelect.value = "manual";
      view.turnSelect.dispatch("change");
      session.mic.pttPress(); // the push-to-talk button (its pointer events need a browser)
      view.pttButton.dispatch("pointerup");
      view.stopButton.dispatch("click");
      view.errorClose.dispatch("click");
      view.input.value = "hello";
      view.submitText();
      view.micButton.dispatch("click");
      await new Promise((resolve) => setTimeout(resolve, 0));
      m.set("connection", "error"); // the kernel's write: the session turns the mic off
      view.connectButton.dispatch("click");
      view.dispose();
      session.detachView();
      session.dispose();
      const own = writes.filter(([name, value]) => !(name === "connection" && value === "error"));
      const allowed = {
        mic: ["off", "starting", "on", "denied", "unsupported"],
        turn_detection: ["server_vad", "semantic_vad", "manual"],
        error: [""],
      };
      for (const [name, value] of own) {
        assert.ok(Object.hasOwn(allowed, name), `the page wrote ${name}`);
        assert.ok(allowed[name].includes(value), `the page wrote ${name}=${JSON.stringify(value)}`);
      }
      assert.deepEqual([...new Set(own.map(([name]) => name))].sort(), ["error", "mic", "turn_detection"]);
    } finally {
      dom.restore();
      audio.restore();
    }
  });

  it("a page opened mid-answer reports positions in the item, counting what was sent before it", async () => {
    const audio = installMic();
    try {
      const m = liveModel(connected());
      const session = new w.RtwSession(m);
      session.start();
      await session.ensureAudio();
      const player = audio.player();
      // 480 samples of item "a" arrive before the snapshot; 2400 had been sent in all.
      m.fire("msg:custom", { type: "audio", item_id: "a" }, [new DataView(new ArrayBuffer(960))]);
      m.fire("msg:custom", { type: "snapshot", items: [], audio_sent: { a: 2400, bad: -1 } });
      player.port.onmessage({ data: { type: "finished", itemId: "a", playedSamples: 480 } });
      assert.deepEqual(m.sent.at(-1).content, { type: "played", item_id: "a", played_samples: 2400 });
      m.fire("msg:custom", { type: "audio", item_id: "b" }, [new DataView(new ArrayBuffer(960))]);
      player.port.onmessage({ data: { type: "interrupted", itemId: "b", playedSamples: 100 } });
      assert.deepEqual(m.sent.at(-1).content, { type: "interrupted", item_id: "b", played_samples: 100 });
      session.dispose();
    } finally {
      audio.restore();
    }
  });

  it("the last view going stops the mic and playback; a view rendered again brings them back", async (t) => {
    const audio = installMic();
    t.mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const m = liveModel(connected());
      const session = new w.RtwSession(m);
      session.start();
      session.attachView();
      await session.mic.start();
      const player = audio.player();
      const pcm = () => [new DataView(new ArrayBuffer(960))];
      m.fire("msg:custom", { type: "audio", item_id: "a" }, pcm());
      assert.equal(player.port.posted.at(-1).type, "push");

      // A view disposed and rendered again at once (a cell moved): nothing stops.
      session.detachView();
      session.attachView();
      t.mock.timers.tick(1000);
      assert.equal(m.state.mic, "on");
      assert.equal(player.port.posted.at(-1).type, "push");

      // The output replaced (the cell re-run): after a moment the session goes quiet.
      session.detachView();
      t.mock.timers.tick(100);
      assert.equal(m.state.mic, "on", "not at once");
      t.mock.timers.tick(500);
      assert.equal(m.state.mic, "off", "the kernel hears the mic is off");
      assert.equal(audio.tracks[0].stopped, true);
      assert.deepEqual(player.port.posted.at(-1), { type: "interrupt" });
      // The player's answer becomes the barge-in message: the kernel truncates there.
      player.port.onmessage({ data: { type: "interrupted", itemId: "a", playedSamples: 240 } });
      assert.deepEqual(m.sent.at(-1).content, { type: "interrupted", item_id: "a", played_samples: 240 });

      // An answer arriving with no view is not played: the kernel is told, once per item.
      const pushes = player.port.posted.length;
      m.fire("msg:custom", { type: "audio", item_id: "b" }, pcm());
      m.fire("msg:custom", { type: "audio", item_id: "b" }, pcm());
      assert.equal(player.port.posted.length, pushes);
      const unplayed = m.sent.filter((s) => s.content.type === "interrupted" && s.content.item_id === "b");
      assert.deepEqual(unplayed.map((s) => s.content), [{ type: "interrupted", item_id: "b", played_samples: 0 }]);
      // The store still follows: a later view shows everything.
      m.fire("msg:custom", { type: "delta", item_id: "b", field: "transcript", delta: "Hi" });
      assert.equal(session.store.items.get("b").transcript, "Hi");

      session.attachView(); // displayed again
      m.fire("msg:custom", { type: "audio", item_id: "c" }, pcm());
      assert.equal(player.port.posted.at(-1).type, "push");
      assert.equal(player.port.posted.at(-1).itemId, "c");
      session.dispose();
    } finally {
      t.mock.timers.reset();
      audio.restore();
    }
  });
});

describe("the view with a stand-in DOM", () => {
  let dom;
  before(() => {
    dom = installDocument();
  });
  after(() => dom.restore());

  /** `count` alternating user and assistant messages, revisions 1..count. */
  function conversation(count) {
    const items = [];
    for (let n = 1; n <= count; n++) {
      const role = n % 2 ? "user" : "assistant";
      items.push(summary({ id: `i${n}`, role, status: "completed", text: `message ${n}`, rev: n }));
    }
    return { rev: count, items };
  }

  function open(items) {
    const m = liveModel({ items, mic: "off", connection: "connected", turn_detection: "server_vad", tools: [] });
    const session = new w.RtwSession(m);
    session.start();
    const el = document.createElement("div");
    document.body.append(el);
    const view = new w.RtwView(session, m, el);
    return { m, session, view };
  }

  /** The ids of the item nodes in the log, in order, and their texts. */
  function shown(view) {
    const roots = view.log.children.filter((node) => node.dataset.itemId !== undefined);
    return roots.map((node) => node.dataset.itemId);
  }

  function textOf(view, id) {
    return view.nodes.get(id).root.children.at(-1).textContent;
  }

  it("renders every item on its first render, in order, and text as text", () => {
    const { view, session } = open({
      rev: 2,
      items: [
        summary({ id: "a", role: "user", text: "<img src=x onerror=alert(1)>", rev: 1 }),
        summary({ id: "b", transcript: "<b>bold</b>", rev: 2 }),
      ],
    });
    assert.deepEqual(shown(view), ["a", "b"]);
    assert.equal(textOf(view, "a"), "<img src=x onerror=alert(1)>");
    assert.ok(view.nodes.get("a").text.data.includes("<img"), "a Text node holds it");
    assert.equal(view.empty.parentNode, null);
    view.dispose();
    session.dispose();
  });

  it("an item change touches only that item's nodes, the same at 10 and 1,000 items", () => {
    const costs = [];
    for (const count of [10, 1000]) {
      const { m, view, session } = open(conversation(count));
      assert.equal(shown(view).length, count);
      const cost = () => ({ ...document.stats });
      // a new item
      document.resetStats();
      m.fire("msg:custom", { type: "item", item: summary({ id: "new", status: "in_progress", rev: count + 1 }) });
      const added = cost();
      assert.deepEqual(shown(view).slice(-2), [`i${count}`, "new"]);
      // it streams, then completes
      document.resetStats();
      m.fire("msg:custom", { type: "delta", item_id: "new", field: "transcript", delta: "Hi" });
      const streamed = cost();
      document.resetStats();
      m.fire("msg:custom", { type: "item", item: summary({ id: "new", status: "completed", transcript: "Hi", rev: count + 2 }) });
      const completed = cost();
      assert.equal(view.nodes.get("new").root.dataset.status, "completed");
      // an items state that changes one item
      const next = conversation(count);
      next.items[0] = { ...next.items[0], text: "edited", rev: count + 3 };
      next.items.push(summary({ id: "new", status: "completed", transcript: "Hi", rev: count + 2 }));
      next.rev = count + 3;
      document.resetStats();
      m.set("items", next);
      const state = cost();
      assert.equal(textOf(view, "i1"), "edited");
      // a removal
      document.resetStats();
      m.fire("msg:custom", { type: "item_removed", item_id: "i2", rev: count + 4 });
      const removed = cost();
      assert.equal(view.nodes.has("i2"), false);
      assert.equal(shown(view).length, count);
      assert.deepEqual(shown(view), session.store.order);
      costs.push({ added, streamed, completed, removed, state });
      view.dispose();
      session.dispose();
    }
    const [small, large] = costs;
    assert.deepEqual(large, small);
    assert.ok(small.added.created > 0 && small.added.created < 12, JSON.stringify(small.added));
    assert.deepEqual(small.streamed, { created: 0, inserted: 0, removed: 0, appended: 1, layoutReads: 0 });
    for (const [what, cost] of Object.entries(small)) assert.equal(cost.layoutReads, 0, what);
    assert.equal(small.completed.created, 0);
    assert.equal(small.removed.removed, 1);
    assert.equal(small.state.created, 0, "the changed item's nodes are reused");
  });

  it("follows the end of the log once per frame, unless the user scrolled up", async () => {
    const frame = () => new Promise((resolve) => setTimeout(resolve, 40));
    const { m, view, session } = open(conversation(30));
    await frame();
    const log = view.log;
    const end = () => log.scrollHeight - log.clientHeight;
    assert.equal(log.scrollTop, log.scrollHeight, "scrolled to the end after the first render");
    for (let k = 0; k < 5; k++) {
      m.fire("msg:custom", { type: "item", item: summary({ id: `n${k}`, rev: 100 + k }) });
    }
    document.resetStats();
    await frame();
    assert.equal(log.scrollTop, log.scrollHeight);
    assert.ok(document.stats.layoutReads <= 2, "one scroll for the five changes");
    log.dispatch("scroll"); // the scroll it made: still following
    assert.equal(view.following, true);
    log.scrollTop = 100; // the user scrolls up
    log.dispatch("scroll");
    assert.equal(view.following, false);
    m.fire("msg:custom", { type: "item", item: summary({ id: "later", rev: 200 }) });
    await frame();
    assert.equal(log.scrollTop, 100, "left where the user put it");
    log.scrollTop = end(); // and back down to the end
    log.dispatch("scroll");
    assert.equal(view.following, true);
    m.fire("msg:custom", { type: "delta", item_id: "later", field: "transcript", delta: "more" });
    m.fire("msg:custom", { type: "item", item: summary({ id: "last", rev: 201 }) });
    await frame();
    assert.equal(log.scrollTop, log.scrollHeight);
    view.dispose();
    session.dispose();
  });

  it("a new item goes before the next item that has nodes; a state that moves items renders all", () => {
    const { m, view, session } = open(conversation(3));
    m.set("items", {
      rev: 5,
      items: [...conversation(3).items.slice(0, 1), summary({ id: "mid", rev: 5 }), ...conversation(3).items.slice(1)],
    });
    assert.deepEqual(shown(view), ["i1", "mid", "i2", "i3"]);
    const moved = conversation(3);
    moved.items.reverse();
    moved.rev = 6;
    m.set("items", moved);
    assert.deepEqual(shown(view), ["i3", "i2", "i1"]);
    view.dispose();
    session.dispose();
  });

  it("an older state arriving after an item message or a removal changes nothing", () => {
    const { m, view, session } = open(conversation(2));
    m.fire("msg:custom", { type: "item", item: summary({ id: "i2", status: "completed", text: "newer", rev: 4 }) });
    m.fire("msg:custom", { type: "item_removed", item_id: "i1", rev: 5 });
    m.set("items", conversation(2)); // taken at rev 2
    assert.deepEqual(shown(view), ["i2"]);
    assert.equal(textOf(view, "i2"), "newer");
    view.dispose();
    session.dispose();
  });

  it("shows a tool call as a card that hides its output, and the output alone once the call is gone", () => {
    const { m, view, session } = open({ rev: 0, items: [] });
    assert.equal(view.empty.parentNode, view.log, "no messages yet");
    m.fire("msg:custom", { type: "item", item: { id: "f", type: "function_call", name: "<script>", call_id: "c1", rev: 1 } });
    m.fire("msg:custom", { type: "delta", item_id: "f", field: "arguments", delta: '{"city": "<b>"}' });
    m.fire("msg:custom", { type: "item", item: { id: "o", type: "function_call_output", call_id: "c1", output: "{}", rev: 2 } });
    m.fire("msg:custom", { type: "item", item: { id: "f", type: "function_call", name: "<script>", call_id: "c1", arguments: '{"city": "<b>"}', tool_state: "done", output: "{}", rev: 3 } });
    const card = view.nodes.get("f");
    assert.equal(card.root.dataset.toolState, "done");
    assert.equal(card.label.textContent, "<script>");
    assert.equal(card.args.data, '{"city": "<b>"}');
    assert.equal(view.nodes.get("o").root.hidden, true);
    assert.equal(view.empty.parentNode, null);
    m.fire("msg:custom", { type: "item_removed", item_id: "f", rev: 4 });
    assert.equal(view.nodes.get("o").root.hidden, false, "the output shows without its call");
    m.fire("msg:custom", { type: "item_removed", item_id: "o", rev: 5 });
    assert.equal(view.empty.parentNode, view.log, "nothing left to show");
    view.dispose();
    session.dispose();
  });
});
