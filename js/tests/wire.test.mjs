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

/** A stand-in for the browser's WebSocket: what is sent, and hooks a test fires. */
class FakeSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closed = false;
    FakeSocket.made.push(this);
  }
  send(data) {
    this.sent.push(data);
  }
  close() {
    this.closed = true;
    this.readyState = 3;
  }
  /** The kernel accepts and says `ready`. */
  ready() {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify({ type: "ready" }) });
  }
  /** The socket closes (the kernel went, or refused). */
  drop() {
    this.readyState = 3;
    this.onclose?.({});
  }
}

describe("the page socket", () => {
  const url = "ws://127.0.0.1:40123/abcdefghijklmnopqrstuvwx";
  const local = { hostname: "127.0.0.1" };
  let saved;
  before(() => {
    saved = globalThis.WebSocket;
    globalThis.WebSocket = FakeSocket;
  });
  after(() => {
    globalThis.WebSocket = saved;
  });

  /** The socket `wire` opens on the kernel's offer (the only one made since). */
  function opened(wire) {
    FakeSocket.made = [];
    wire.offerSocket(url, local);
    return FakeSocket.made[0];
  }

  it("takes only ws:// on 127.0.0.1 with a port and a token", () => {
    assert.ok(w.rtwIsPageSocketUrl(url));
    for (const bad of ["wss://127.0.0.1:1/abcdefghijklmnopqrstuvwx", "ws://evil.example:1/abcdefghijklmnopqrstuvwx",
      "ws://127.0.0.1/abcdefghijklmnopqrstuvwx", "ws://127.0.0.1:1/short", "ws://127.0.0.1:1/abcdefghijklmnopq?x=1", 42, null]) {
      assert.ok(!w.rtwIsPageSocketUrl(bad), String(bad));
    }
    assert.deepEqual(w.parseKernelMessage({ type: "page_socket", url: "ws://10.0.0.1:5/abcdefghijklmnopqrstuvwx" }, []), null);
    assert.deepEqual(w.parseKernelMessage({ type: "page_socket", url }, []), { type: "page_socket", url });
  });

  it("is opened only by a page served from this machine", () => {
    for (const hostname of ["localhost", "127.0.0.1", "[::1]"]) assert.ok(w.rtwPageIsLocal({ hostname }), hostname);
    for (const hostname of ["hub.example.org", "10.0.0.5", "vscode-webview", ""]) assert.ok(!w.rtwPageIsLocal({ hostname }), hostname);
    const wire = new w.RtwWire(fakeModel());
    FakeSocket.made = [];
    wire.offerSocket(url, { hostname: "hub.example.org" });
    assert.equal(FakeSocket.made.length, 0);
    assert.equal(wire.socket, null);
  });

  it("switches after `ready`: the comm says socket_switch, then every message goes over it", () => {
    const model = fakeModel();
    const wire = new w.RtwWire(model);
    wire.toKernel = "binary";
    FakeSocket.made = [];
    wire.offerSocket(url, local);
    wire.offerSocket(url, local); // opening already: not twice
    assert.equal(FakeSocket.made.length, 1);
    const socket = FakeSocket.made[0];
    assert.equal(socket.url, `${url}?page=${encodeURIComponent(wire.id)}`);
    assert.equal(socket.binaryType, "arraybuffer");
    // before `ready`, the comm carries everything
    wire.send({ type: "ptt_start" });
    wire.sendAudio(new ArrayBuffer(8));
    assert.deepEqual(model.sent.map((m) => m.content.type), ["ptt_start", "audio"]);
    assert.equal(socket.sent.length, 0);
    socket.ready();
    assert.deepEqual(model.sent.at(-1).content, { type: "socket_switch", id: wire.id });
    const chunk = new ArrayBuffer(16);
    wire.sendAudio(chunk);
    wire.send({ type: "ptt_stop" });
    assert.equal(model.sent.length, 3, "nothing more by the comm");
    assert.equal(socket.sent[0], chunk, "the chunk as a binary frame");
    assert.deepEqual(JSON.parse(socket.sent[1]), { type: "ptt_stop" });
    // a message with buffers stays on the comm (the probe's kind)
    wire.send({ type: "probe", id: "x" }, [new ArrayBuffer(4)]);
    assert.equal(model.sent.at(-1).content.type, "probe");
    socket.ready(); // a second `ready` changes nothing
    assert.equal(model.sent.filter((m) => m.content.type === "socket_switch").length, 1);
  });

  it("goes back to the comm when the socket closes, and may open another", () => {
    const model = fakeModel();
    const wire = new w.RtwWire(model);
    wire.toKernel = "binary";
    const first = opened(wire);
    first.ready();
    first.drop();
    wire.send({ type: "stop" });
    wire.sendAudio(new ArrayBuffer(4));
    assert.deepEqual(model.sent.slice(-2).map((m) => m.content.type), ["stop", "audio"]);
    wire.offerSocket(url, local);
    assert.equal(FakeSocket.made.length, 2);
    // a refused one (closed before `ready`) leaves the comm in charge
    FakeSocket.made[1].drop();
    wire.send({ type: "stop" });
    assert.equal(model.sent.at(-1).content.type, "stop");
  });

  it("closes with the session and opens no other", () => {
    const wire = new w.RtwWire(fakeModel());
    const socket = opened(wire);
    wire.close();
    assert.ok(socket.closed);
    assert.equal(wire.viaSocket, false);
    wire.offerSocket(url, local);
    assert.equal(FakeSocket.made.length, 1);
  });

  /** A kernel frame as pagesocket.py writes it: length, JSON, buffer. */
  function kernelFrame(content, bytes) {
    const header = new TextEncoder().encode(JSON.stringify(content));
    const out = new Uint8Array(4 + header.length + bytes.length);
    new DataView(out.buffer).setUint32(0, header.length, true);
    out.set(header, 4);
    out.set(bytes, 4 + header.length);
    return out.buffer;
  }

  it("reads the kernel's binary frames, and refuses what is not one", () => {
    const framed = w.rtwUnframe(kernelFrame({ type: "audio", item_id: "i1" }, new Uint8Array([1, 2, 3, 4])));
    assert.deepEqual(framed.content, { type: "audio", item_id: "i1" });
    assert.deepEqual(Array.from(new Uint8Array(framed.buffers[0].buffer, framed.buffers[0].byteOffset, framed.buffers[0].byteLength)), [1, 2, 3, 4]);
    assert.equal(w.rtwUnframe(new ArrayBuffer(2)), null);
    const long = new ArrayBuffer(8);
    new DataView(long).setUint32(0, 99, true);
    assert.equal(w.rtwUnframe(long), null, "a length past the end");
    assert.equal(w.rtwUnframe(kernelFrame([1, 2], new Uint8Array(0))), null, "not an object");
  });

  it("holds the socket's kernel messages until comm_off, then ignores the audio path on the comm", () => {
    const model = fakeModel();
    const wire = new w.RtwWire(model);
    const got = [];
    wire.onKernel = (content, buffers) => got.push([content.type, buffers.length]);
    const socket = opened(wire);
    socket.ready();
    socket.onmessage({ data: kernelFrame({ type: "audio", item_id: "i1" }, new Uint8Array(4)) });
    socket.onmessage({ data: JSON.stringify({ type: "audio_done", item_id: "i1" }) });
    assert.deepEqual(got, [], "held: the comm may still carry earlier audio");
    assert.ok(!wire.ignores({ type: "audio" }));
    wire.commOffCame("another-page");
    assert.deepEqual(got, []);
    wire.commOffCame(wire.id);
    assert.deepEqual(got, [["audio", 1], ["audio_done", 0]]);
    assert.ok(wire.ignores({ type: "audio" }) && wire.ignores({ type: "interrupt" }));
    assert.ok(!wire.ignores({ type: "delta" }) && !wire.ignores({ type: "snapshot" }));
    socket.onmessage({ data: JSON.stringify({ type: "interrupt" }) });
    assert.deepEqual(got.at(-1), ["interrupt", 0]);
    socket.onmessage({ data: "not json" });
    socket.onmessage({ data: JSON.stringify(5) });
    assert.equal(got.length, 3);
    socket.drop();
    assert.ok(!wire.ignores({ type: "audio" }), "closed: the comm again");
  });

  it("hands over what it held when the socket closes before comm_off", () => {
    const wire = new w.RtwWire(fakeModel());
    const got = [];
    wire.onKernel = (content) => got.push(content.type);
    const socket = opened(wire);
    socket.ready();
    socket.onmessage({ data: JSON.stringify({ type: "interrupt" }) });
    socket.drop();
    assert.deepEqual(got, ["interrupt"]);
  });
});
