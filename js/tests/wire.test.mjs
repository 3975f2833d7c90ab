// The binary-buffer probe and the base64 fallback (js/widget/wire.js): the probe's bytes, the
// encoding, and a session's wire against a stand-in model that answers as the kernel does
// (realtime_widget/widget/wire.py), in a host that keeps buffers and in one that drops them.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";

import { assembleWidget } from "./assembly.mjs";
import { fakeModel } from "./fakemodel.mjs";

let w;
const dir = mkdtempSync(path.join(tmpdir(), "rtw-wire-"));
before(async () => {
  const file = path.join(dir, "widget-bundle.mjs");
  writeFileSync(file, assembleWidget());
  w = await import(pathToFileURL(file).href);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The kernel's echo to the probe the model sent, as a host that keeps buffers delivers it. */
function kernelEcho(model) {
  const probe = model.sent.find((m) => m.content.type === "probe");
  return [{ type: "probe_echo", id: probe.content.id, intact: w.rtwProbeIntact(probe.buffers ?? []) }, [new DataView(w.rtwProbeBytes())]];
}

describe("the probe's bytes", () => {
  it("are every byte value once, and only exactly them are intact", () => {
    const bytes = new Uint8Array(w.rtwProbeBytes());
    assert.equal(bytes.length, 256);
    assert.deepEqual(Array.from(bytes.slice(0, 3)), [0, 1, 2]);
    assert.equal(bytes[255], 255);
    assert.ok(w.rtwProbeIntact([w.rtwProbeBytes()]));
    const wide = new Uint8Array(300);
    wide.set(new Uint8Array(w.rtwProbeBytes()), 10);
    assert.ok(w.rtwProbeIntact([new DataView(wide.buffer, 10, 256)]), "a view at an offset");
    assert.ok(!w.rtwProbeIntact([]));
    assert.ok(!w.rtwProbeIntact(undefined));
    assert.ok(!w.rtwProbeIntact([w.rtwProbeBytes(), w.rtwProbeBytes()]));
    assert.ok(!w.rtwProbeIntact([new ArrayBuffer(256)]));
    assert.ok(!w.rtwProbeIntact([new TextEncoder().encode(String.fromCharCode(...new Uint8Array(w.rtwProbeBytes())))]));
    assert.ok(!w.rtwProbeIntact(["text"]));
  });
});

describe("the fallback encoding", () => {
  it("is base64, as the kernel reads and writes it, for buffers of any size", () => {
    for (const size of [0, 2, 3840, 0x8000 + 6, 200_000]) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 7919) & 0xff);
      const text = w.rtwBase64Encode(bytes.buffer);
      assert.equal(text, Buffer.from(bytes).toString("base64"));
      assert.deepEqual(new Uint8Array(w.rtwBase64Decode(text)), bytes);
    }
    const pcm = new Int16Array([1, -2, 32767]);
    assert.equal(w.rtwBase64Encode(new DataView(pcm.buffer, 2, 4)), Buffer.from(pcm.buffer, 2, 4).toString("base64"));
    assert.equal(w.rtwBase64Decode("not base64!"), null);
    assert.equal(w.rtwBase64Decode(42), null);
  });

  it("is read in either form from a kernel message", () => {
    const pcm = new Int16Array([5, -5]);
    const fromText = w.rtwAudioOf({ data: Buffer.from(pcm.buffer).toString("base64") }, []);
    assert.deepEqual(Array.from(new Int16Array(fromText)), [5, -5]);
    const backing = new Uint8Array(12);
    backing.set(new Uint8Array(pcm.buffer), 4);
    const fromView = w.rtwAudioOf({}, [new DataView(backing.buffer, 4, 4)]);
    assert.deepEqual(Array.from(new Int16Array(fromView)), [5, -5], "only the bytes the view covers");
    assert.equal(w.rtwAudioOf({}, []), null);
    assert.equal(w.rtwAudioOf({}, ["x"]), null);
  });
});

describe("a session's wire", () => {
  it("in a host that keeps buffers: sends text until the echo, then buffers, and says nothing", () => {
    const model = fakeModel({ items: [], mic: "on", connection: "connected", turn_detection: "server_vad" });
    const session = new w.RtwSession(model);
    session.start();
    const [probe] = model.sent;
    assert.equal(probe.content.type, "probe");
    assert.equal(probe.buffers.length, 1);
    assert.ok(w.rtwProbeIntact(probe.buffers));
    const chunk = () => ({ type: "chunk", buffer: new Int16Array([7, 8]).buffer, offset: 0, samples: 2 });
    session.mic._onCaptureMessage(chunk());
    const early = model.sent.at(-1);
    assert.deepEqual(early.content, { type: "audio", data: Buffer.from(new Int16Array([7, 8]).buffer).toString("base64") });
    assert.equal(early.buffers, undefined, "before the echo: text, so a host that drops buffers loses nothing");
    model.fire("msg:custom", { type: "probe_echo", id: "another page's", intact: false }, []);
    assert.equal(session.wire.toKernel, "probing", "another page's echo changes nothing");
    model.fire("msg:custom", ...kernelEcho(model));
    assert.deepEqual(model.sent.at(-1).content, { type: "probe_result", id: session.wire.id, intact: true });
    assert.deepEqual([session.wire.toKernel, session.wire.fromKernel], ["binary", "binary"]);
    session.mic._onCaptureMessage(chunk());
    assert.deepEqual(model.sent.at(-1).content, { type: "audio" });
    assert.equal(model.sent.at(-1).buffers[0].byteLength, 4);
    assert.equal(session.wire.notice(), "");
    const results = model.sent.filter((m) => m.content.type === "probe_result");
    model.fire("msg:custom", ...kernelEcho(model));
    assert.equal(model.sent.filter((m) => m.content.type === "probe_result").length, results.length, "answered once");
  });

  it("in a host that drops buffers: the probe finds out, audio goes as text both ways, and the view is told", () => {
    globalThis.__rtwDropBuffers = true;
    let session;
    try {
      const model = fakeModel({ items: [], mic: "on", connection: "connected", turn_detection: "server_vad" });
      session = new w.RtwSession(model);
      const events = [];
      session.subscribe((e) => events.push(e.kind));
      session.start();
      const probe = model.sent[0];
      assert.equal(probe.content.type, "probe");
      assert.equal(probe.buffers, undefined, "the simulated host strips the probe's buffer");
      // the kernel finds the page's buffer missing, and its own echo's buffer is dropped too
      model.fire("msg:custom", ...kernelEcho(model));
      assert.equal(kernelEcho(model)[0].intact, false);
      assert.deepEqual(model.sent.at(-1).content, { type: "probe_result", id: session.wire.id, intact: false });
      assert.deepEqual([session.wire.toKernel, session.wire.fromKernel], ["text", "text"]);
      assert.ok(events.includes("audio"), "the view renders its notice");
      assert.match(session.wire.notice(), /drops binary messages both ways: audio travels as text/);
      session.mic._onCaptureMessage({ type: "chunk", buffer: new Int16Array([3, 4]).buffer, offset: 0, samples: 2 });
      assert.deepEqual(model.sent.at(-1).content, { type: "audio", data: "AwAEAA==" });
      // the kernel's audio as text reaches the player's queue
      model.fire("msg:custom", { type: "audio", item_id: "a", data: "AQACAA==" }, [new DataView(new ArrayBuffer(2))]);
      assert.equal(session.pending.length, 1);
      assert.deepEqual(Array.from(new Int16Array(session.pending[0].buffer)), [1, 2]);
      // audio in a buffer is lost in such a host: ignored, not misread
      model.fire("msg:custom", { type: "audio", item_id: "a" }, [new DataView(new ArrayBuffer(4))]);
      assert.equal(session.pending.length, 1);
    } finally {
      delete globalThis.__rtwDropBuffers;
      session?.dispose();
    }
  });

  it("says which way buffers are lost", () => {
    const wire = new w.RtwWire(fakeModel());
    wire.toKernel = "text";
    wire.fromKernel = "binary";
    assert.match(wire.notice(), /to the kernel/);
    wire.toKernel = "binary";
    wire.fromKernel = "text";
    assert.match(wire.notice(), /from the kernel/);
  });
});
