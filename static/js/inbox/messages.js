// The open conversation's messages: shown in order, read marks, and the visitor typing.
import { element, format, messageElement, nearBottom, scrollDown, setSendStatus } from "../common.js";
import { socket } from "./connection.js";
import { requestOpen } from "./conversation.js";
import { noteHandover } from "./handover.js";
import { T, lang, mine, root, state, ui } from "./state.js";

function eventText(message) {
  const template = T[`event_${message.event}`];
  if (!template) return message.body;
  return format(template, { name: message.author || "" });
}

function buildMessage(message) {
  if (message.kind === "event") return element("p", "event", eventText(message));
  if (message.removed_after_days) {
    return element("p", "event", format(T.content_removed, { days: message.removed_after_days }));
  }
  const note = message.kind === "note";
  const whisper = note && message.event === "whisper";
  const visitor = message.sender === "visitor";
  const author = visitor ? T.visitor : message.author || T.you;
  return messageElement(message, {
    className: `${visitor ? "msg--theirs" : "msg--mine"}${note ? " msg--note" : ""}${whisper ? " msg--whisper" : ""}`,
    label: whisper
      ? T.whisper_label
      : note
        ? message.event === "handover"
          ? `${T.event_handover_note} · ${T.note_label}`
          : T.note_label
        : undefined,
    author: whisper ? format(T.whisper_author, { name: author }) : author,
    lang,
    linkWarning: T.link_warning,
    status: !visitor,
  });
}

export function addMessage(message) {
  const c = state.current;
  if (!c || !message || message.conversation_id !== c.id || !message.seq) return;
  const pending = message.client_msg_id && c.pendingEls.get(message.client_msg_id);
  if (c.transcript.has(message.seq)) {
    if (pending) {
      pending.remove();
      c.pendingEls.delete(message.client_msg_id);
    }
    return;
  }
  const follow = nearBottom(ui.messages);
  let el;
  if (pending) {
    el = pending;
    c.pendingEls.delete(message.client_msg_id);
    el.remove();
  } else {
    el = buildMessage(message);
  }
  if (message.sender === "counsellor") {
    if (message.kind === "note") setSendStatus(el, "");
    else setSendStatus(el, message.seq <= c.visitorReadSeq ? T.read : T.sent);
  }
  c.transcript.show(message.seq, el);
  // What counts as unread: the visitor's words, and the conversation being passed on.
  if (message.sender === "visitor" || message.event === "transferred") {
    c.highestVisitorSeq = Math.max(c.highestVisitorSeq, message.seq);
  }
  if (message.sender === "visitor") hideTyping();
  noteHandover(message);
  markRead();
  if (follow || message.sender !== "visitor") scrollDown(ui.messages, true);
  // Staff see every seq: a gap is a message still on its way or lost with a connection.
  if (c.transcript.gap && !c.catchingUp) requestOpen();
}

export function showPending(item) {
  const el = buildMessage({
    sender: "counsellor",
    kind: item.note ? "note" : "text",
    event: item.event,
    body: item.body,
    author: root.dataset.meName,
    created_at: item.created_at,
  });
  setSendStatus(el, T.sending, "pending");
  state.current.pendingEls.set(item.client_msg_id, el);
  ui.messages.append(el);
  scrollDown(ui.messages, true);
}

export function updateReadMarks() {
  const c = state.current;
  for (const [seq, el] of c.transcript.entries()) {
    if (seq <= c.visitorReadSeq && el.classList.contains("msg--mine") && !el.classList.contains("msg--note")) {
      setSendStatus(el, T.read);
    }
  }
}

export function markRead() {
  const c = state.current;
  if (!c || document.visibilityState !== "visible" || !socket.connected || !mine(c.summary)) return;
  if (c.highestVisitorSeq > c.lastReadSent) {
    c.lastReadSent = c.highestVisitorSeq;
    socket.emit("read", { conversation_id: c.id, seq: c.highestVisitorSeq });
  }
}

document.addEventListener("visibilitychange", markRead);

let typingHide = null;
export function showTyping() {
  ui.typing.hidden = false;
  clearTimeout(typingHide);
  typingHide = setTimeout(hideTyping, 8000);
}
export function hideTyping() {
  clearTimeout(typingHide);
  ui.typing.hidden = true;
}
