// The WebRTC call's pure helpers and the kernel's call messages, from the widget module as
// the kernel assembles it (see js/widget/webrtc.js).

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";

import { assembleWidget } from "./assembly.mjs";

let w;
const dir = mkdtempSync(path.join(tmpdir(), "rtw-webrtc-"));
before(async () => {
  const file = path.join(dir, "widget-bundle.mjs");
  writeFileSync(file, assembleWidget());
  w = await import(pathToFileURL(file).href);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("webrtc call helpers", () => {
  it("take the call id from the Location header's last segment", () => {
    assert.equal(w.callIdFromLocation("/v1/realtime/calls/rtc_abc"), "rtc_abc");
    assert.equal(w.callIdFromLocation("https://h/v1/realtime/calls/rtc_abc/?x=1"), "rtc_abc");
    assert.equal(w.callIdFromLocation(null), null);
    assert.equal(w.callIdFromLocation("/"), null);
  });

  it("say why a browser cannot call", () => {
    assert.match(w.callUnsupportedReason({ fetch }), /RTCPeerConnection/);
    assert.match(w.callUnsupportedReason({ RTCPeerConnection: class {} }), /fetch/);
    assert.equal(w.callUnsupportedReason({ RTCPeerConnection: class {}, fetch }), null);
  });

  it("check the kernel's call and hang_up messages", () => {
    const call = { type: "call", request: "r", url: "http://127.0.0.1:9/v1/realtime/calls", secret: "ek_1", timeout_ms: 5000 };
    assert.deepEqual(w.parseKernelMessage(call), call);
    assert.equal(w.parseKernelMessage({ ...call, url: "javascript:alert(1)" }), null);
    assert.equal(w.parseKernelMessage({ ...call, secret: "" }), null);
    assert.equal(w.parseKernelMessage({ ...call, timeout_ms: -1 }).timeout_ms, 15000);
    assert.deepEqual(w.parseKernelMessage({ type: "hang_up", call_id: "rtc_1" }), { type: "hang_up", call_id: "rtc_1" });
    assert.deepEqual(w.parseKernelMessage({ type: "hang_up" }), { type: "hang_up", call_id: null });
  });
});
