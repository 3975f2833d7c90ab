// A small stand-in DOM for driving RtwView in node (not a test file itself): elements and
// text nodes with the child-list, text, attribute, class, dataset and event parts the view
// uses, and counts of what was done to them, so that tests can see how much an update
// touched. No parsing of HTML anywhere: textContent makes a Text node.

class FakeNode {
  constructor(doc) {
    this.ownerDocument = doc;
    /** @type {FakeElement | null} */
    this.parentNode = null;
  }

  remove() {
    const parent = this.parentNode;
    if (parent === null) return;
    parent.childNodes.splice(parent.childNodes.indexOf(this), 1);
    this.parentNode = null;
    this.ownerDocument.stats.removed += 1;
  }

  get isConnected() {
    let node = this;
    while (node.parentNode !== null) node = node.parentNode;
    return node === this.ownerDocument.body;
  }
}

export class FakeText extends FakeNode {
  constructor(doc, data) {
    super(doc);
    this.data = String(data);
  }

  appendData(text) {
    this.data += text;
    this.ownerDocument.stats.appended += 1;
  }

  get textContent() {
    return this.data;
  }

  set textContent(value) {
    this.data = String(value);
  }
}

export class FakeElement extends FakeNode {
  constructor(doc, tag) {
    super(doc);
    this.tagName = tag.toUpperCase();
    /** @type {FakeNode[]} */
    this.childNodes = [];
    this.className = "";
    this.dataset = {};
    this.style = {};
    this.hidden = false;
    this.attributes = new Map();
    this.listeners = new Map();
    this.scrollTop = 0;
    this.clientHeight = 400;
    const classes = () => new Set(this.className.split(/\s+/).filter(Boolean));
    this.classList = {
      contains: (name) => classes().has(name),
      toggle: (name, force) => {
        const set = classes();
        const on = force === undefined ? !set.has(name) : Boolean(force);
        if (on) set.add(name);
        else set.delete(name);
        this.className = [...set].join(" ");
        return on;
      },
    };
  }

  /** Each child is 20 px high: enough for the view's "near the bottom" checks. Reading it
   * counts as a layout read (a browser lays out first if anything changed). */
  get scrollHeight() {
    this.ownerDocument.stats.layoutReads += 1;
    return 20 * this.childNodes.length;
  }

  /** Runs the listeners of `type` with a bare event. */
  dispatch(type) {
    for (const handler of this.listeners.get(type) ?? []) handler({ type, target: this });
  }

  get children() {
    return this.childNodes.filter((node) => node instanceof FakeElement);
  }

  _adopt(node) {
    const child = typeof node === "string" ? new FakeText(this.ownerDocument, node) : node;
    if (child.parentNode !== null) child.remove();
    child.parentNode = this;
    this.ownerDocument.stats.inserted += 1;
    return child;
  }

  append(...nodes) {
    for (const node of nodes) this.childNodes.push(this._adopt(node));
  }

  prepend(...nodes) {
    this.childNodes.unshift(...nodes.map((node) => this._adopt(node)));
  }

  insertBefore(node, before) {
    const child = this._adopt(node);
    const index = before === null ? -1 : this.childNodes.indexOf(before);
    if (before !== null && index < 0) throw new Error("insertBefore: not a child");
    if (index < 0) this.childNodes.push(child);
    else this.childNodes.splice(index, 0, child);
    return child;
  }

  replaceChildren(...nodes) {
    for (const child of [...this.childNodes]) child.remove();
    this.append(...nodes);
  }

  get textContent() {
    return this.childNodes.map((node) => node.textContent).join("");
  }

  set textContent(value) {
    this.replaceChildren();
    if (value !== "") this.append(new FakeText(this.ownerDocument, value));
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  getAttribute(name) {
    return this.attributes.get(name) ?? null;
  }

  addEventListener(type, handler) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), handler]);
  }

  removeEventListener(type, handler) {
    this.listeners.set(
      type,
      (this.listeners.get(type) ?? []).filter((h) => h !== handler),
    );
  }
}

/** A document whose `stats` count elements created and child-list changes. */
export function createDocument() {
  const doc = {
    stats: { created: 0, inserted: 0, removed: 0, appended: 0, layoutReads: 0 },
    createElement: (tag) => {
      doc.stats.created += 1;
      return new FakeElement(doc, tag);
    },
    createTextNode: (data) => new FakeText(doc, data),
    resetStats() {
      Object.assign(doc.stats, { created: 0, inserted: 0, removed: 0, appended: 0, layoutReads: 0 });
    },
  };
  doc.body = new FakeElement(doc, "body");
  return doc;
}

/** Installs a fresh document as `globalThis.document`; returns it and a restore function. */
export function installDocument() {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "document");
  const doc = createDocument();
  globalThis.document = doc;
  const restore = () => {
    if (saved) Object.defineProperty(globalThis, "document", saved);
    else delete globalThis.document;
  };
  return { doc, restore };
}
