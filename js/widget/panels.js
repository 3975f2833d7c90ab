// The view's everyday controls and its "what happened" panel, each owned by an RtwView:
// RtwControls (input and output device pickers, mute, volume, the transcript's copy and
// downloads, a new conversation) and RtwActivity (the timeline of the last turns and the
// event log: collapsible, filterable by type, at most RTW_MAX_LOG rows, each row updated in
// place when its run of deltas grows). Text is set as textContent, never parsed as HTML.
// Handling one log message touches only the rows it names.
//
// Assembly: as every js/widget file (see js/widget/session.js): no imports, unique
// top-level names, no side effects at import.

/**
 * @param {string} label
 * @param {string} value
 * @returns {HTMLOptionElement}
 */
function rtwOption(label, value) {
  const option = /** @type {HTMLOptionElement} */ (rtwElement("option", "", label));
  option.value = value;
  return option;
}

/**
 * Sets the element's text if it differs (no node is replaced otherwise).
 * @param {HTMLElement} el
 * @param {string} text
 */
function rtwSetText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Device pickers, mute, volume and the conversation's actions, for one view. */
export class RtwControls {
  /**
   * @param {RtwView} view
   * @param {HTMLElement} row where the controls go
   */
  constructor(view, row) {
    this.view = view;
    const session = view.session;
    this.inputSelect = /** @type {HTMLSelectElement} */ (rtwElement("select", "rtw-select rtw-input-device"));
    this.inputSelect.title = "Microphone";
    this.inputSelect.setAttribute("aria-label", "Microphone");
    this.outputSelect = /** @type {HTMLSelectElement} */ (rtwElement("select", "rtw-select rtw-output-device"));
    this.outputSelect.setAttribute("aria-label", "Speaker");
    this.outputSupported = outputChoiceSupported(globalThis);
    this.muteButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-mute", "Mute"));
    this.volume = /** @type {HTMLInputElement} */ (rtwElement("input", "rtw-volume"));
    Object.assign(this.volume, { type: "range", min: "0", max: "100", value: String(Math.round(session.volume * 100)) });
    this.volume.setAttribute("aria-label", "Volume");
    this.volumeText = rtwElement("span", "rtw-volume-text");
    const volumeBox = rtwElement("label", "rtw-volume-box");
    volumeBox.append(rtwElement("span", "rtw-control-label", "Volume"), this.volume, this.volumeText);
    this.copyButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-copy", "Copy transcript"));
    this.mdButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-download-md", "Download .md"));
    this.jsonButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-download-json", "Download .json"));
    this.newButton = /** @type {HTMLButtonElement} */ (rtwElement("button", "rtw-btn rtw-new", "New conversation"));
    this.newButton.title = "Delete every message: the model forgets them, the session's settings stay";
    const spacer = rtwElement("span", "rtw-spacer");
    row.append(this.inputSelect, this.muteButton, this.outputSelect, volumeBox, spacer, this.copyButton, this.mdButton, this.jsonButton, this.newButton);

    view.listen(this.inputSelect, "change", () => {
      if (this.kernelDevices()) this.chooseKernelDevice("input", this.inputSelect.value);
      else session.mic.useDevice(this.inputSelect.value).catch(() => {});
    });
    view.listen(this.outputSelect, "change", () => {
      if (this.kernelDevices()) this.chooseKernelDevice("output", this.outputSelect.value);
      else session.setSinkId(this.outputSelect.value).catch((err) => view.flash(`The speaker could not be chosen: ${err && err.message ? err.message : err}`));
    });
    view.listen(this.muteButton, "click", () => session.mic.setMuted(!session.mic.muted));
    view.listen(this.volume, "input", () => {
      session.setVolume(Number(this.volume.value) / 100);
      this.render();
    });
    view.listen(this.copyButton, "click", () => this.copy());
    view.listen(this.mdButton, "click", () => this.download("markdown"));
    view.listen(this.jsonButton, "click", () => this.download("json"));
    view.listen(this.newButton, "click", () => {
      if (session.playing !== null) session.interruptPlayback();
      session.stopReplay();
      view.session.wire.send({ type: "new_conversation" });
    });
    const devices = globalThis.navigator ? navigator.mediaDevices : undefined;
    if (devices && typeof devices.addEventListener === "function") {
      view.listen(devices, "devicechange", () => this.listDevices());
    }
    for (const name of ["audio_in_use", "kernel_devices", "kernel_devices_open"]) {
      const relist = () => this.listDevices();
      view.model.on(`change:${name}`, relist);
      view.cleanups.push(() => view.model.off(`change:${name}`, relist));
    }
    this.listDevices();
  }

  /** Whether the pickers list the kernel's devices: while the kernel's are in use. */
  kernelDevices() {
    return this.view.model.get("audio_in_use") === "kernel";
  }

  /**
   * Asks the kernel to reopen `side` on the device `value` (its index; "" chooses none).
   * @param {"input" | "output"} side
   * @param {string} value
   */
  chooseKernelDevice(side, value) {
    if (value !== "") this.view.session.wire.send({ type: "kernel_device", side, index: Number(value) });
  }

  /** Fills the pickers with the kernel's devices while they are in use, else the browser's
   * (names show once the mic was allowed). */
  async listDevices() {
    if (this.kernelDevices()) {
      const m = this.view.model;
      const open = /** @type {{input?: number | null, output?: number | null}} */ (m.get("kernel_devices_open") ?? {});
      for (const [select, side] of /** @type {const} */ ([[this.inputSelect, "input"], [this.outputSelect, "output"]])) {
        const { options, value } = kernelDeviceOptions(m.get("kernel_devices"), side, open[side]);
        select.replaceChildren(...options.map((o) => rtwOption(o.label, o.value)));
        select.value = value;
        select.disabled = false;
        select.title = side === "input" ? "The kernel's microphone" : "The kernel's speaker";
      }
      return;
    }
    if (!this.outputSupported) {
      // said at once, not after the device list: the picker is never offered and then withdrawn
      this.fill(this.outputSelect, [], "audiooutput", "", "Default speaker (this browser cannot choose)");
      this.outputSelect.title = "This browser cannot choose the speaker: the system's default plays";
      this.outputSelect.disabled = true;
    }
    /** @type {MediaDeviceInfo[]} */
    let found = [];
    try {
      found = await navigator.mediaDevices.enumerateDevices();
    } catch (_) {
      // no media devices here: the pickers keep the default alone
    }
    if (this.kernelDevices()) return; // the kernel's came meanwhile
    this.fill(this.inputSelect, found, "audioinput", this.view.session.mic.deviceId, "Default microphone");
    if (this.outputSupported) {
      this.outputSelect.title = "Speaker";
      this.fill(this.outputSelect, found, "audiooutput", this.view.session.sinkId, "Default speaker");
      this.outputSelect.disabled = false;
    }
  }

  /**
   * @param {HTMLSelectElement} select
   * @param {MediaDeviceInfo[]} found
   * @param {"audioinput" | "audiooutput"} kind
   * @param {string} chosen
   * @param {string} fallback the default's name
   */
  fill(select, found, kind, chosen, fallback) {
    const options = [rtwOption(fallback, "")];
    const devices = found.filter((d) => d.kind === kind && d.deviceId !== "" && d.deviceId !== "default");
    devices.forEach((d, i) => options.push(rtwOption(deviceLabel(d, i, kind), d.deviceId)));
    select.replaceChildren(...options);
    select.value = devices.some((d) => d.deviceId === chosen) ? chosen : "";
  }

  /** @param {"markdown" | "json"} format */
  async transcript(format) {
    return /** @type {string} */ (await this.view.session.ask({ type: "transcript", format }, "transcript"));
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(await this.transcript("markdown"));
      this.view.flash("Transcript copied (Markdown).");
    } catch (err) {
      this.view.flash(`The transcript could not be copied: ${err && /** @type {any} */ (err).message ? /** @type {any} */ (err).message : err}`);
    }
  }

  /** @param {"markdown" | "json"} format */
  async download(format) {
    try {
      const text = await this.transcript(format);
      const json = format === "json";
      rtwDownload(json ? "conversation.json" : "conversation.md", text, json ? "application/json" : "text/markdown");
    } catch (err) {
      this.view.flash(`The transcript could not be downloaded: ${err && /** @type {any} */ (err).message ? /** @type {any} */ (err).message : err}`);
    }
  }

  render() {
    const mic = this.view.session.mic;
    const on = this.view.model.get("mic") === "on";
    rtwSetText(this.muteButton, mic.muted ? "Unmute" : "Mute");
    this.muteButton.classList.toggle("rtw-active", mic.muted);
    this.muteButton.setAttribute("aria-pressed", String(mic.muted));
    this.muteButton.disabled = !on;
    this.muteButton.title = mic.muted
      ? "Send the microphone's audio again"
      : "Send nothing: the microphone stays open";
    rtwSetText(this.volumeText, `${this.volume.value}%`);
    const items = this.view.visible > 0;
    for (const button of [this.copyButton, this.mdButton, this.jsonButton]) button.disabled = !items;
    this.newButton.disabled = !items;
  }
}

/** The timeline of the last turns and the event log, for one view. */
export class RtwActivity {
  /**
   * @param {RtwView} view
   * @param {HTMLElement} timeline where the turns' bars go
   * @param {HTMLElement} holder where the log panel goes
   */
  constructor(view, timeline, holder) {
    this.view = view;
    this.timeline = timeline;
    this.panel = /** @type {HTMLDetailsElement} */ (rtwElement("details", "rtw-activity"));
    const summary = rtwElement("summary", "rtw-activity-head");
    this.title = rtwElement("span", "rtw-activity-title", "Event log");
    this.filter = /** @type {HTMLSelectElement} */ (rtwElement("select", "rtw-select rtw-log-filter"));
    this.filter.setAttribute("aria-label", "Show events of type");
    this.filter.append(rtwOption("All events", ""));
    summary.append(this.title, this.filter);
    this.rows = rtwElement("div", "rtw-log-rows");
    this.panel.append(summary, this.rows);
    holder.append(this.panel);
    /** @type {Map<number, HTMLElement>} rows by seq, oldest first */
    this.bySeq = new Map();
    /** @type {Set<string>} the types in the filter */
    this.types = new Set();
    view.listen(this.filter, "change", () => this.applyFilter());
    // a click on the filter must not fold the panel
    view.listen(this.filter, "click", (event) => event.preventDefault());
    this.renderEntries([...view.session.log.values()], true);
  }

  /**
   * @param {LogEntry[]} entries
   * @param {boolean} reset
   */
  renderEntries(entries, reset) {
    if (reset) {
      this.rows.replaceChildren();
      this.bySeq.clear();
    }
    const shown = this.filter.value;
    for (const entry of entries) {
      let row = this.bySeq.get(entry.seq);
      if (row === undefined) {
        row = rtwElement("div", "rtw-log-row");
        row.dataset.seq = String(entry.seq);
        row.dataset.direction = entry.direction;
        row.dataset.type = entry.type;
        const { arrow } = logMarks(entry);
        row.append(
          rtwElement("span", "rtw-log-time", logTime(entry.time)),
          rtwElement("span", "rtw-log-dir", arrow),
          rtwElement("span", "rtw-log-type", entry.type),
          rtwElement("span", "rtw-log-count"),
          rtwElement("span", "rtw-log-summary", entry.summary),
        );
        row.hidden = shown !== "" && shown !== entry.type;
        this.rows.append(row);
        this.bySeq.set(entry.seq, row);
        if (!this.types.has(entry.type)) {
          this.types.add(entry.type);
          this.filter.append(rtwOption(entry.type, entry.type));
        }
        if (this.bySeq.size > RTW_MAX_LOG) {
          const [oldest, node] = /** @type {[number, HTMLElement]} */ (this.bySeq.entries().next().value);
          node.remove();
          this.bySeq.delete(oldest);
        }
      }
      /** @type {HTMLElement} */ (row.children[3]).textContent = logMarks(entry).count;
    }
    this.title.textContent = `Event log (${this.bySeq.size})`;
  }

  applyFilter() {
    const shown = this.filter.value;
    for (const row of this.bySeq.values()) row.hidden = shown !== "" && shown !== row.dataset.type;
  }

  /** Draws the last turns: waiting for the first audio, then the audio. */
  renderTimeline() {
    const timings = /** @type {TurnTiming[]} */ (this.view.model.get("turn_timings") ?? []);
    const bars = timelineBars(Array.isArray(timings) ? timings : []);
    this.timeline.hidden = bars.length === 0;
    const rows = bars.map((bar) => {
      const row = rtwElement("div", "rtw-turn-bar");
      row.title = bar.title;
      const wait = rtwElement("span", "rtw-turn-wait");
      wait.style.width = `${bar.wait}%`;
      const audio = rtwElement("span", "rtw-turn-audio");
      audio.style.width = `${bar.audio}%`;
      row.append(wait, audio);
      return row;
    });
    this.timeline.replaceChildren(rtwElement("span", "rtw-control-label", "Last turns"), ...rows);
  }
}
