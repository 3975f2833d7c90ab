// The page the widget is shown in, and whether its microphone and speakers can be used: pure.
//
// Assembly (see realtime_widget/widget/frontend.py): no imports, top-level names unique
// across js/lib and js/widget, no side effects at import. `rtwDetectHost` reads only what it
// is handed (a window-like object), so node tests hand it stand-ins.

/**
 * @typedef {"jupyterlab" | "notebook7" | "vscode" | "colab" | "marimo" | "static" | "unknown"} RtwHost
 */

/**
 * @typedef {object} RtwPageAudio whether the page can carry the conversation's audio
 * @property {RtwHost} host
 * @property {boolean} ok the page can capture the microphone and play
 * @property {string} why "" when ok; else why it cannot, and what to do instead
 */

/** The hosts' names, as the view shows them. @type {Record<RtwHost, string>} */
const RTW_HOST_LABELS = {
  jupyterlab: "JupyterLab",
  notebook7: "Jupyter Notebook",
  vscode: "VS Code",
  colab: "Colab",
  marimo: "marimo",
  static: "a static page",
  unknown: "this page",
};

const RTW_USE_KERNEL = 'use the kernel\'s devices: RealtimeWidget(audio="kernel") or audio="auto"';

/**
 * The Jupyter application named by the page's `jupyter-config-data` script, if any.
 * @param {any} doc
 * @returns {string}
 */
function rtwJupyterApp(doc) {
  const script = doc && typeof doc.getElementById === "function" ? doc.getElementById("jupyter-config-data") : null;
  if (!script || typeof script.textContent !== "string") return "";
  try {
    const config = JSON.parse(script.textContent);
    return typeof config.appName === "string" ? config.appName : "?";
  } catch {
    return "?";
  }
}

/**
 * Which host shows the widget: read from `win` (the page's window, or a stand-in with
 * `location`, `document` and globals).
 * @param {any} win
 * @returns {RtwHost}
 */
function rtwHostOf(win) {
  const location = win.location ?? {};
  const protocol = String(location.protocol ?? "");
  const hostname = String(location.hostname ?? "");
  const doc = win.document;
  if (protocol === "vscode-webview:" || typeof win.acquireVsCodeApi === "function") return "vscode";
  if (hostname.endsWith("colab.research.google.com") || hostname.endsWith(".googleusercontent.com") || win.google?.colab) {
    return "colab";
  }
  const query = (/** @type {string} */ selector) =>
    doc && typeof doc.querySelector === "function" ? doc.querySelector(selector) : null;
  if (win.__MARIMO_MOUNT_CONFIG__ !== undefined || query("marimo-app, #App[data-marimo]") || query("marimo-filename")) {
    return "marimo";
  }
  const app = rtwJupyterApp(doc);
  if (app === "JupyterLab") return "jupyterlab";
  if (app === "Jupyter Notebook") return "notebook7";
  if (app !== "") return "jupyterlab";
  if (protocol === "file:" || query('script[type="application/vnd.jupyter.widget-state+json"]')) return "static";
  return "unknown";
}

/**
 * The host and whether the page's audio can work there, with why not and what to do.
 * @param {any} win
 * @returns {RtwPageAudio}
 */
export function rtwDetectHost(win) {
  const host = rtwHostOf(win);
  /** @param {string} why */
  const cannot = (why) => ({ host, ok: false, why });
  if (host === "vscode") {
    return cannot(`VS Code's notebook outputs cannot use the microphone (their webviews deny it): ${RTW_USE_KERNEL}.`);
  }
  if (host === "static") {
    return cannot("This is a static export: no kernel runs behind it. Open the notebook in Jupyter or marimo to talk.");
  }
  if (win.isSecureContext === false) {
    return cannot(`Browsers give the microphone only to https pages and localhost: open this page over https or on localhost, or ${RTW_USE_KERNEL}.`);
  }
  const devices = win.navigator?.mediaDevices;
  if (!devices || typeof devices.getUserMedia !== "function") {
    return cannot(`This browser offers no microphone here: ${RTW_USE_KERNEL}.`);
  }
  if (typeof win.AudioWorkletNode !== "function") {
    return cannot(`This browser has no AudioWorklet: use a current Chromium, Firefox or Safari, or ${RTW_USE_KERNEL}.`);
  }
  return { host, ok: true, why: "" };
}

/**
 * The view's line about audio: where it flows, or why it cannot.
 * @param {RtwPageAudio} page
 * @param {string} inUse the `audio_in_use` trait: "browser", "kernel", "none" or ""
 * @returns {string}
 */
export function rtwAudioLine(page, inUse) {
  if (inUse === "kernel") return "Audio: the kernel's microphone and speakers.";
  if (inUse === "none") {
    return page.ok ? "Audio: none." : `Audio: none. ${page.why}`;
  }
  if (!page.ok) return page.why;
  if (page.host === "colab") return "Audio: this page (Colab is untested: if nothing is heard or played, use the kernel's devices).";
  return "";
}
