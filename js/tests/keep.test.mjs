// The view's pure helpers for what a user keeps and reads (js/widget/keep.js, and the log
// entry and image checks of js/widget/items.js), imported from the assembled module.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";

import { assembleWidget } from "./assembly.mjs";

let w;
const dir = mkdtempSync(path.join(tmpdir(), "rtw-keep-"));
before(async () => {
  const file = path.join(dir, "widget-bundle.mjs");
  writeFileSync(file, assembleWidget());
  w = await import(pathToFileURL(file).href);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A timing as the kernel's TurnTiming.as_dict() gives it. */
function timing(fields) {
  return {
    response_id: "resp_1",
    item_id: "item_1",
    ended_at: 1_700_000_000,
    to_first_audio_ms: 820,
    audio_ms: 3400,
    status: "completed",
    after_turn: true,
    ...fields,
  };
}

describe("wavBytes", () => {
  it("writes a mono 16-bit PCM WAV header and the samples, little-endian", () => {
    const pcm = Int16Array.from([0, 1, -1, 32767, -32768]);
    const bytes = w.wavBytes(pcm);
    assert.ok(bytes instanceof ArrayBuffer);
    assert.equal(bytes.byteLength, 44 + pcm.length * 2);
    const view = new DataView(bytes);
    const ascii = (at, n) => String.fromCharCode(...new Uint8Array(bytes, at, n));
    assert.equal(ascii(0, 4), "RIFF");
    assert.equal(view.getUint32(4, true), 36 + pcm.length * 2);
    assert.equal(ascii(8, 4), "WAVE");
    assert.equal(ascii(12, 4), "fmt ");
    assert.equal(view.getUint32(16, true), 16);
    assert.equal(view.getUint16(20, true), 1, "PCM");
    assert.equal(view.getUint16(22, true), 1, "mono");
    assert.equal(view.getUint32(24, true), 24000, "24 kHz unless told");
    assert.equal(view.getUint32(28, true), 48000, "bytes per second");
    assert.equal(view.getUint16(32, true), 2, "bytes per frame");
    assert.equal(view.getUint16(34, true), 16, "bits per sample");
    assert.equal(ascii(36, 4), "data");
    assert.equal(view.getUint32(40, true), pcm.length * 2);
    const samples = [...pcm].map((_, i) => view.getInt16(44 + i * 2, true));
    assert.deepEqual(samples, [...pcm]);
  });

  it("takes another rate, and an empty recording is a header alone", () => {
    const view = new DataView(w.wavBytes(new Int16Array(3), 16000));
    assert.equal(view.getUint32(24, true), 16000);
    assert.equal(view.getUint32(28, true), 32000);
    const empty = w.wavBytes(new Int16Array(0));
    assert.equal(empty.byteLength, 44);
    assert.equal(new DataView(empty).getUint32(40, true), 0);
  });
});

describe("turn timings", () => {
  it("describe the wait for the first audio and the audio", () => {
    assert.equal(w.describeTiming(timing({})), "first audio after 820 ms, then 3.4 s");
    const fromStart = timing({ after_turn: false, to_first_audio_ms: 1500 });
    assert.equal(w.describeTiming(fromStart), "first audio after the start, 1.5 s, then 3.4 s");
  });

  it("describe nothing for an answer without audio", () => {
    assert.equal(w.describeTiming(timing({ to_first_audio_ms: null })), "");
    assert.equal(w.describeTiming(timing({ audio_ms: null })), "");
  });

  it("draw bars scaled to the longest turn shown, skipping turns without audio", () => {
    const bars = w.timelineBars([
      timing({ to_first_audio_ms: 500, audio_ms: 1500 }),
      timing({ to_first_audio_ms: null, audio_ms: null }),
      timing({ to_first_audio_ms: 1000, audio_ms: 3000, status: "incomplete" }),
    ]);
    assert.equal(bars.length, 2);
    assert.deepEqual(
      bars.map(({ wait, audio }) => [wait, audio]),
      [
        [12.5, 37.5],
        [25, 75],
      ],
    );
    assert.equal(bars[0].title, "first audio after 500 ms, then 1.5 s");
    assert.equal(bars[1].title, "first audio after 1.0 s, then 3.0 s (incomplete)");
  });

  it("keep the last `count` turns, oldest first, and none for no timings", () => {
    const many = Array.from({ length: 20 }, (_, i) => timing({ to_first_audio_ms: 100 * (i + 1), audio_ms: 100 }));
    const bars = w.timelineBars(many);
    assert.equal(bars.length, 12);
    assert.equal(bars[0].title, "first audio after 900 ms, then 100 ms");
    assert.equal(bars.at(-1).wait + bars.at(-1).audio, 100);
    assert.equal(w.timelineBars(many, 3).length, 3);
    assert.deepEqual(w.timelineBars([]), []);
    const zero = w.timelineBars([timing({ to_first_audio_ms: 0, audio_ms: 0 })]);
    assert.deepEqual(
      zero.map(({ wait, audio }) => [wait, audio]),
      [[0, 0]],
      "no division by zero",
    );
  });
});

describe("the event log", () => {
  it("normalizes entries, dropping one without a usable seq", () => {
    const raw = { seq: 7, time: 1.5, direction: "sent", type: "response.create", summary: "resp", count: 3 };
    assert.deepEqual(w.normalizeLogEntry(raw), raw);
    assert.deepEqual(w.normalizeLogEntry({ seq: 2, direction: "up", count: 0, time: Number.NaN, type: 4 }), {
      seq: 2,
      time: 0,
      direction: "received",
      type: "?",
      summary: "",
      count: 1,
    });
    for (const bad of [null, "x", 3, {}, { seq: 1.5 }, { seq: "1" }]) assert.equal(w.normalizeLogEntry(bad), null);
  });

  it("marks direction and runs", () => {
    assert.deepEqual(w.logMarks({ direction: "sent", count: 1 }), { arrow: "→", count: "" });
    assert.deepEqual(w.logMarks({ direction: "received", count: 42 }), { arrow: "←", count: "×42" });
  });

  it("times entries to the millisecond, in local time", () => {
    const at = new Date(2024, 0, 2, 3, 4, 5, 67).getTime() / 1000;
    assert.equal(w.logTime(at), "03:04:05.067");
  });
});

describe("devices and images", () => {
  it("names a device by its label, or by kind and number before labels may be read", () => {
    assert.equal(w.deviceLabel({ label: "USB mic" }, 0, "audioinput"), "USB mic");
    assert.equal(w.deviceLabel({ label: "" }, 1, "audioinput"), "Microphone 2");
    assert.equal(w.deviceLabel({ label: "" }, 0, "audiooutput"), "Speaker 1");
  });

  it("knows whether the speaker can be chosen", () => {
    class WithSink {
      setSinkId() {}
    }
    assert.equal(w.outputChoiceSupported({ AudioContext: WithSink }), true);
    assert.equal(w.outputChoiceSupported({ AudioContext: class {} }), false);
    assert.equal(w.outputChoiceSupported({}), false);
  });

  it("takes only images carried in the page as data URLs", () => {
    assert.equal(w.isImageDataUrl("data:image/png;base64,iVBORw0KGgo="), true);
    assert.equal(w.isImageDataUrl("data:image/jpeg;base64,/9j/"), true);
    for (const bad of [
      "https://example.com/a.png",
      "data:image/svg+xml;base64,PHN2Zz4=",
      "data:text/html;base64,PGI+",
      "javascript:alert(1)",
      "DATA:image/png;base64,xx",
      null,
      42,
    ]) {
      assert.equal(w.isImageDataUrl(bad), false, String(bad));
    }
  });
});

describe("kernelDeviceOptions", () => {
  const devices = [
    { index: 0, name: "rtw_mic", input_channels: 32, output_channels: 0 },
    { index: 1, name: "rtw_speaker", input_channels: 0, output_channels: 2 },
    { index: 4, name: "both", input_channels: 1, output_channels: 1 },
  ];

  it("lists the devices of a side by index, showing the one open", () => {
    assert.deepEqual(w.kernelDeviceOptions(devices, "input", 0), {
      options: [
        { label: "Kernel: rtw_mic", value: "0" },
        { label: "Kernel: both", value: "4" },
      ],
      value: "0",
    });
    assert.deepEqual(w.kernelDeviceOptions(devices, "output", 4).options.map((o) => o.value), ["1", "4"]);
  });

  it("says when none is open, or the one open is not listed", () => {
    const none = w.kernelDeviceOptions(devices, "output", null);
    assert.deepEqual(none.options[0], { label: "Kernel speaker: none open", value: "" });
    assert.equal(none.value, "");
    const unlisted = w.kernelDeviceOptions([], "input", 7);
    assert.deepEqual(unlisted, { options: [{ label: "Kernel microphone 7", value: "7" }], value: "7" });
  });

  it("takes a trait that is not a list as no devices", () => {
    assert.deepEqual(w.kernelDeviceOptions(undefined, "input", undefined).options.length, 1);
    assert.deepEqual(w.kernelDeviceOptions([null, "x"], "input", null).options.length, 1);
  });
});
