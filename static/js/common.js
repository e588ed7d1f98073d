// Pieces shared by the visitor chat and the staff inbox.

const memory = new Map();
// Set by forgetEverything: from then on nothing is stored again (a late ack would otherwise
// write the conversation back while the page is being left).
let forgotten = false;

/** localStorage that degrades to memory when the browser refuses storage (private modes). */
export const storage = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return memory.has(key) ? memory.get(key) : null;
    }
  },
  set(key, value) {
    if (forgotten) return;
    try {
      localStorage.setItem(key, value);
    } catch {
      memory.set(key, value);
    }
  },
  remove(key) {
    memory.delete(key);
    try {
      localStorage.removeItem(key);
    } catch {
      /* nothing stored */
    }
  },
  keys(prefix) {
    const found = new Set([...memory.keys()].filter((k) => k.startsWith(prefix)));
    try {
      for (let i = 0; i < localStorage.length; i += 1) {
        const key = localStorage.key(i);
        if (key && key.startsWith(prefix)) found.add(key);
      }
    } catch {
      /* memory only */
    }
    return [...found];
  },
};

/**
 * Forget everything the visitor pages keep in this browser (the browser token, conversation,
 * what was seen, unsent messages) and store nothing more from this page.
 */
export function forgetEverything() {
  forgotten = true;
  for (const key of storage.keys("helpline.")) storage.remove(key);
  try {
    sessionStorage.clear();
  } catch {
    /* nothing stored */
  }
}

/** A string of `bytes` random bytes, base64url without padding. */
export function randomToken(bytes = 32) {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** A random UUID; randomUUID only exists on HTTPS and localhost, so build one otherwise. */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Fill {name} placeholders in a translated string. */
export function format(template, values = {}) {
  return String(template).replace(/\{(\w+)\}/g, (whole, key) =>
    key in values && values[key] !== null && values[key] !== undefined ? String(values[key]) : whole,
  );
}

/** Text length as the server counts it (code points of the trimmed text). */
export function textLength(text) {
  return [...text.trim()].length;
}

const TLDS = "nl|be|com|org|net|eu|info|io|me|tv|app|link|ly|gl|to|co|de|uk|fr|ru|xyz|site|online";
const LINK = new RegExp(
  String.raw`\b(?:https?:\/\/|www\.)[^\s<>"]+` +
    String.raw`|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:${TLDS})\b(?:\/[^\s<>"]*)?`,
  "gi",
);

/** Split text into plain parts and link-looking parts; nothing becomes clickable. */
export function splitLinks(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let link = match[0];
    const trailing = link.match(/[.,;:!?)\]'"]+$/);
    if (trailing) link = link.slice(0, -trailing[0].length);
    if (!link) continue;
    if (match.index > last) parts.push({ text: text.slice(last, match.index), link: false });
    parts.push({ text: link, link: true });
    last = match.index + link.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), link: false });
  return parts;
}

/** Put message text into `el` as text only; links are marked but not clickable. True if any. */
export function renderBody(el, text) {
  el.replaceChildren();
  let links = false;
  for (const part of splitLinks(text)) {
    if (part.link) {
      const span = document.createElement("span");
      span.className = "link-text";
      span.textContent = part.text;
      el.append(span);
      links = true;
    } else {
      el.append(document.createTextNode(part.text));
    }
  }
  return links;
}

/** Create an element with a class and optional text. */
export function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined && text !== null) el.textContent = text;
  return el;
}

/** Hours and minutes of an ISO timestamp in the reader's own time zone. */
export function clock(iso, lang) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** Show an ISO timestamp in a <time> element: hours and minutes, the full value as dateTime. */
export function stampTime(time, iso, lang) {
  time.textContent = clock(iso, lang);
  if (iso) time.dateTime = iso;
}

/**
 * The element of a chat message: author and time, the text (links marked, never clickable),
 * `linkWarning` under text with a link, and an empty status line when `status` is true.
 * `label`, when given, comes first (e.g. that a message is a private note).
 */
export function messageElement(message, { className, author, lang, linkWarning, status = false, label }) {
  const el = element("div", `msg ${className}`);
  if (label !== undefined) el.append(element("p", "msg__label", label));
  const meta = element("p", "msg__meta");
  const time = element("time", "msg__time");
  stampTime(time, message.created_at, lang);
  meta.append(element("span", "msg__author", author), " ", time);
  const body = element("p", "msg__body");
  const links = renderBody(body, message.body);
  el.append(meta, body);
  if (links) el.append(element("p", "msg__warning", linkWarning));
  if (status) el.append(element("p", "msg__status"));
  return el;
}

/** Set the status line of a message of one's own; `modifier` "pending" or "failed" marks it. */
export function setSendStatus(el, text, modifier = "") {
  const status = el.querySelector(".msg__status");
  if (status) status.textContent = text;
  el.classList.toggle("msg--pending", modifier === "pending");
  el.classList.toggle("msg--failed", modifier === "failed");
}

/** Whether the scrolling element `box` is at (or close to) its bottom. */
export function nearBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 160;
}

/** Scroll `box` to its bottom: always when forced, else only if it is near the bottom already. */
export function scrollDown(box, force = false) {
  if (force || nearBottom(box)) box.scrollTop = box.scrollHeight;
}

/** Call `send` when the composer `form` is submitted or Enter (without Shift) is pressed in `box`. */
export function wireComposer(form, box, send) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
}

/** Read a JSON data block (type="application/json": not executed, so allowed by the CSP). */
export function readJson(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : {};
}

/** Insert `el` among the children of `list` that carry data-seq, in seq order; before pending ones. */
export function insertBySeq(list, el, seq) {
  for (const child of list.children) {
    const other = child.dataset.seq ? Number(child.dataset.seq) : Infinity;
    if (other > seq) {
      list.insertBefore(el, child);
      return;
    }
  }
  list.append(el);
}

/**
 * Sends messages one at a time, in order, each with its client_msg_id, and resends the same
 * message until the server acks it. The server stores a client_msg_id once, so a resend is
 * harmless. `decide(item, ack)` returns "done", "drop" or a retry delay in milliseconds.
 */
export class Outbox {
  constructor({ socket, event, payload, decide, save = () => {}, timeout = 5000 }) {
    this.socket = socket;
    this.event = event;
    this.payload = payload;
    this.decide = decide;
    this.save = save;
    this.timeout = timeout;
    this.items = [];
    this.attempt = 0;
    this.busy = false;
    this.timer = null;
  }

  add(item) {
    this.items.push(item);
    this.save(this.items);
    this.pump();
  }

  /** Forget every unsent item (e.g. the conversation ended); returns them. */
  clear() {
    const dropped = this.items;
    this.items = [];
    this.attempt += 1;
    this.busy = false;
    this.save(this.items);
    return dropped;
  }

  /** Start over after a reconnect: a send in flight on the old connection may be lost. */
  restart() {
    this.attempt += 1;
    this.busy = false;
    this.pump();
  }

  pump() {
    clearTimeout(this.timer);
    if (this.busy || !this.items.length || !this.socket.connected) return;
    const item = this.items[0];
    const payload = this.payload(item);
    if (!payload) return;
    const attempt = ++this.attempt;
    this.busy = true;
    this.socket.timeout(this.timeout).emit(this.event, payload, (err, ack) => {
      if (err) {
        if (attempt !== this.attempt) return;
        this.busy = false;
        this.later(500);
        return;
      }
      if (this.items[0] !== item) return;
      const outcome = this.decide(item, ack || {});
      // An ack from an older attempt still counts; the newer attempt's answer is then ignored.
      this.attempt += 1;
      this.busy = false;
      if (outcome === "done" || outcome === "drop") {
        if (this.items[0] === item) this.items.shift();
        this.save(this.items);
        this.pump();
      } else {
        this.later(Number(outcome) || 3000);
      }
    });
  }

  later(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), ms);
  }
}
