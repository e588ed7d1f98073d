// One conversation as a page shows it: every message once, in seq order, and the seq to catch
// up from after a reconnect or a gap (docs/protocol.md, Reliability). Used by the visitor's
// chat and the staff inbox.
import { insertBySeq } from "./common.js";

export class Transcript {
  /** `list` is the element the messages are shown in. */
  constructor(list) {
    this.list = list;
    this.shown = new Map(); // seq -> element
    this.highest = 0;
    // No message up to this seq is missing: catch up from here, never from `highest`. The
    // live event of an earlier seq can arrive after an ack or a later live event, and is lost
    // when the connection drops in between.
    this.complete = 0;
  }

  has(seq) {
    return this.shown.has(seq);
  }

  /** Show a message's element at its place by seq; false (nothing shown) if that seq is shown. */
  show(seq, el) {
    if (this.shown.has(seq)) return false;
    el.dataset.seq = String(seq);
    insertBySeq(this.list, el, seq);
    this.shown.set(seq, el);
    this.highest = Math.max(this.highest, seq);
    this.advance();
    return true;
  }

  /**
   * The answer to `resume` or `open` holds every message after the seq it was asked for, up to
   * its last one (a seq a visitor's answer skips was a note). Call it before showing them.
   */
  caughtUp(messages) {
    if (messages.length) this.complete = Math.max(this.complete, messages[messages.length - 1].seq);
    this.advance();
  }

  /** True when a message before the last one shown has not arrived (for a visitor: or was a note). */
  get gap() {
    return this.highest > this.complete;
  }

  /** [seq, element] of every message shown. */
  entries() {
    return this.shown.entries();
  }

  /** Take every message off the page and start again from nothing. */
  clear() {
    for (const el of this.shown.values()) el.remove();
    this.shown.clear();
    this.highest = 0;
    this.complete = 0;
  }

  advance() {
    while (this.shown.has(this.complete + 1)) this.complete += 1;
  }
}
