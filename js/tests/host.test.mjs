// The host the widget is shown in, read from stand-ins of the page's window: which host,
// whether its microphone and speakers can be used, and what the view says when they cannot.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";

import { assembleWidget } from "./assembly.mjs";

let w;
const dir = mkdtempSync(path.join(tmpdir(), "rtw-host-"));
before(async () => {
  const file = path.join(dir, "widget-bundle.mjs");
  writeFileSync(file, assembleWidget());
  w = await import(pathToFileURL(file).href);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A document whose querySelector finds `selectors` and whose config script says `config`. */
function doc({ selectors = [], config = null } = {}) {
  return {
    querySelector: (selector) => (selector.split(",").some((s) => selectors.includes(s.trim())) ? {} : null),
    getElementById: (id) => (id === "jupyter-config-data" && config !== null ? { textContent: config } : null),
  };
}

/** A window of a secure page with a microphone API and AudioWorklet, then `fields`. */
function page(fields = {}) {
  return {
    location: { protocol: "https:", hostname: "example.org" },
    document: doc(),
    isSecureContext: true,
    navigator: { mediaDevices: { getUserMedia: async () => ({}) } },
    AudioWorkletNode: class {},
    ...fields,
  };
}

describe("the host", () => {
  it("is JupyterLab or Notebook 7 by the application the page's config names", () => {
    assert.deepEqual(w.rtwDetectHost(page({ document: doc({ config: '{"appName": "JupyterLab"}' }) })), {
      host: "jupyterlab",
      ok: true,
      why: "",
    });
    const notebook = page({ document: doc({ config: '{"appName": "Jupyter Notebook"}' }) });
    assert.equal(w.rtwDetectHost(notebook).host, "notebook7");
    assert.equal(w.rtwDetectHost(page({ document: doc({ config: "not json" }) })).host, "jupyterlab");
  });

  it("is marimo by its page's elements or mount config", () => {
    assert.equal(w.rtwDetectHost(page({ document: doc({ selectors: ["marimo-filename"] }) })).host, "marimo");
    assert.equal(w.rtwDetectHost(page({ __MARIMO_MOUNT_CONFIG__: {} })).host, "marimo");
    assert.equal(w.rtwDetectHost(page({ __MARIMO_MOUNT_CONFIG__: {} })).ok, true);
  });

  it("is VS Code in a webview, where the page's audio cannot work, saying what to do", () => {
    const vscode = w.rtwDetectHost(page({ location: { protocol: "vscode-webview:", hostname: "x" } }));
    assert.equal(vscode.host, "vscode");
    assert.equal(vscode.ok, false);
    assert.match(vscode.why, /VS Code's notebook outputs cannot use the microphone/);
    assert.match(vscode.why, /audio="kernel"/);
    assert.equal(w.rtwDetectHost(page({ acquireVsCodeApi: () => ({}) })).host, "vscode");
  });

  it("is Colab by its hosts, where the page's audio may work and the view says it is untested", () => {
    const colab = w.rtwDetectHost(page({ location: { protocol: "https:", hostname: "abc-0.colab.googleusercontent.com" } }));
    assert.deepEqual(colab, { host: "colab", ok: true, why: "" });
    assert.match(w.rtwAudioLine(colab, "browser"), /Colab is untested/);
    assert.equal(w.rtwDetectHost(page({ google: { colab: {} } })).host, "colab");
  });

  it("is a static export for a file or a page holding widget state without a kernel", () => {
    const file = w.rtwDetectHost(page({ location: { protocol: "file:", hostname: "" } }));
    assert.equal(file.host, "static");
    assert.equal(file.ok, false);
    assert.match(file.why, /static export: no kernel runs behind it/);
    const exported = page({ document: doc({ selectors: ['script[type="application/vnd.jupyter.widget-state+json"]'] }) });
    assert.equal(w.rtwDetectHost(exported).host, "static");
  });

  it("is unknown elsewhere, where the page's audio works", () => {
    assert.deepEqual(w.rtwDetectHost(page()), { host: "unknown", ok: true, why: "" });
  });
});

describe("the page's audio", () => {
  it("cannot work in an insecure page, without a microphone API or without AudioWorklet", () => {
    const config = doc({ config: '{"appName": "JupyterLab"}' });
    const insecure = w.rtwDetectHost(page({ document: config, isSecureContext: false }));
    assert.equal(insecure.host, "jupyterlab");
    assert.match(insecure.why, /only to https pages and localhost/);
    assert.match(w.rtwDetectHost(page({ navigator: {} })).why, /no microphone/);
    assert.match(w.rtwDetectHost(page({ AudioWorkletNode: undefined })).why, /no AudioWorklet/);
  });

  it("is named in the view's line: the kernel's devices, none and why, or nothing to say", () => {
    const fine = w.rtwDetectHost(page());
    const vscode = w.rtwDetectHost(page({ acquireVsCodeApi: () => ({}) }));
    assert.equal(w.rtwAudioLine(fine, "browser"), "");
    assert.equal(w.rtwAudioLine(fine, ""), "");
    assert.equal(w.rtwAudioLine(vscode, "kernel"), "Audio: the kernel's microphone and speakers.");
    assert.match(w.rtwAudioLine(vscode, "none"), /^Audio: none\. VS Code's/);
    assert.equal(w.rtwAudioLine(vscode, "browser"), vscode.why);
  });
});
