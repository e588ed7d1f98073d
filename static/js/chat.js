// The visitor's chat page: anonymous, resumable, every message sent until the server has it.
import { io } from "../vendor/socket.io.esm.min.js";
import "./exit.js";
import {
  Outbox,
  element,
  forgetEverything,
  format,
  insertBySeq,
  messageElement,
  nearBottom,
  randomToken,
  readJson,
  scrollDown,
  setSendStatus,
  stampTime,
  storage,
  textLength,
  uuid,
  wireComposer,
} from "./common.js";
import { Transcript } from "./transcript.js";

const T = readJson("i18n");
const root = document.getElementById("main");
const slug = root.dataset.service;
const maxLength = Number(root.dataset.maxLength) || 4000;
const serviceOpen = root.dataset.open === "true";
const lang = document.documentElement.lang;
const baseTitle = document.title;

const KEY_VISITOR = "helpline.visitor";
const KEY_CONVERSATION = `helpline.conversation.${slug}`;
const KEY_PENDING = `helpline.pending.${slug}`;
const seqKey = (conversationToken) => `helpline.seq.${conversationToken}`;
const ENDED = new Set(["wrap_up", "closed"]);
const TYPING_EVERY_MS = 2000;
const TYPING_IDLE_MS = 3000;

const $ = (id) => document.getElementById(id);
const ui = {
  scroll: $("scroll"),
  messages: $("messages"),
  typing: $("typing"),
  connection: $("connection"),
  status: $("status"),
  notice: $("notice"),
  closed: $("closed-panel"),
  ended: $("ended-panel"),
  composer: $("composer"),
  body: $("body"),
  counter: $("counter"),
  leave: $("leave"),
  forget: $("forget"),
  restart: $("restart"),
  refused: $("refused-panel"),
  refusedText: $("refused-text"),
  tryAgain: $("try-again"),
};

// A booked session's page (/afspraak) hands over its conversation as #resume=<token>: keep it
// as this service's conversation and take it out of the address bar and history.
const handedOver = new URLSearchParams(window.location.hash.slice(1)).get("resume");
if (handedOver && /^[A-Za-z0-9_-]{16,128}$/.test(handedOver)) {
  storage.set(KEY_CONVERSATION, handedOver);
  storage.remove(KEY_PENDING);
}
if (window.location.hash) {
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

let token = storage.get(KEY_CONVERSATION);
let view = null; // the server's visitor_view of the conversation
const transcript = new Transcript(ui.messages);
const pendingEls = new Map(); // client_msg_id -> element of a message not yet acked
let catchingUp = false; // a resume is on its way
let highestCounsellorSeq = 0;
let lastReadSent = 0;
let staffReadSeq = 0;
// What this device had seen before the page was (re)loaded: newer messages get a divider.
let seenBefore = token ? Number(storage.get(seqKey(token)) || 0) : 0;
let firstResume = Boolean(token);
let unseen = 0;

// --- storage --------------------------------------------------------------------------------

function visitorToken() {
  let value = storage.get(KEY_VISITOR);
  if (!value) {
    value = randomToken(32);
    storage.set(KEY_VISITOR, value);
  }
  return value;
}

function loadPending() {
  try {
    const items = JSON.parse(storage.get(KEY_PENDING) || "[]");
    return Array.isArray(items) ? items.filter((i) => i && i.client_msg_id && i.body) : [];
  } catch {
    return [];
  }
}

function savePending(items) {
  if (!items.length) {
    storage.remove(KEY_PENDING);
    return;
  }
  const kept = items.map(({ client_msg_id, body, created_at }) => ({ client_msg_id, body, created_at }));
  storage.set(KEY_PENDING, JSON.stringify(kept));
}

function setToken(value) {
  token = value;
  storage.set(KEY_CONVERSATION, value);
  ui.leave.hidden = false;
}

function rememberSeq() {
  if (token) storage.set(seqKey(token), String(transcript.highest));
}

// --- showing messages ---------------------------------------------------------------------

function eventText(message) {
  const template = T[`event_${message.event}`];
  if (!template) return message.body;
  return format(template, { name: message.author || T.counsellor });
}

function buildMessage(message) {
  if (message.kind === "event") return element("p", "event", eventText(message));
  const mine = message.sender === "visitor";
  return messageElement(message, {
    className: mine ? "msg--mine" : "msg--theirs",
    author: mine ? T.you : message.author || T.counsellor,
    lang,
    linkWarning: T.link_warning,
    status: mine,
  });
}

function addMessage(message) {
  if (!message || !message.seq) return;
  const follow = nearBottom(ui.scroll);
  const pending = message.client_msg_id && pendingEls.get(message.client_msg_id);
  if (transcript.has(message.seq)) {
    if (pending) {
      pending.remove();
      pendingEls.delete(message.client_msg_id);
    }
    return;
  }
  let el;
  if (message.sender === "visitor" && pending) {
    el = pending;
    pendingEls.delete(message.client_msg_id);
    el.remove();
    const time = el.querySelector(".msg__time");
    if (time && message.created_at) stampTime(time, message.created_at, lang);
  } else {
    el = buildMessage(message);
  }
  if (message.sender === "visitor") {
    setSendStatus(el, message.seq <= staffReadSeq ? T.read : T.sent);
  }
  if (firstResume && seenBefore && message.seq > seenBefore && message.sender !== "visitor") {
    const divider = element("p", "divider", T.new_messages);
    divider.dataset.seq = String(seenBefore + 0.5);
    insertBySeq(ui.messages, divider, seenBefore + 0.5);
    seenBefore = 0;
  }
  transcript.show(message.seq, el);
  rememberSeq();
  if (message.sender === "counsellor") {
    highestCounsellorSeq = Math.max(highestCounsellorSeq, message.seq);
    hideTyping();
    if (document.visibilityState !== "visible") {
      unseen += 1;
      document.title = `(${unseen}) ${baseTitle}`;
    }
  }
  markRead();
  scrollDown(ui.scroll, follow || message.sender === "visitor");
  fillGap();
}

function showPending(item, failed = false) {
  const el = buildMessage({ sender: "visitor", kind: "text", body: item.body, created_at: item.created_at });
  setSendStatus(el, T.sending, "pending");
  if (failed) setSendStatus(el, T.failed, "failed");
  pendingEls.set(item.client_msg_id, el);
  ui.messages.append(el);
  scrollDown(ui.scroll, true);
}

function failPending(item) {
  const el = pendingEls.get(item.client_msg_id);
  if (el) setSendStatus(el, T.failed, "failed");
  pendingEls.delete(item.client_msg_id);
}

function failAll() {
  for (const item of outbox.clear()) failPending(item);
}

function updateReadMarks() {
  for (const [seq, el] of transcript.entries()) {
    if (seq <= staffReadSeq && el.classList.contains("msg--mine")) setSendStatus(el, T.read);
  }
}

function clearShown() {
  transcript.clear();
  for (const el of ui.messages.querySelectorAll(".divider, .msg--failed")) el.remove();
  catchingUp = false;
  highestCounsellorSeq = 0;
  lastReadSent = 0;
  staffReadSeq = 0;
}

// --- state of the conversation ------------------------------------------------------------

function show(panel) {
  ui.composer.hidden = panel !== "composer";
  ui.closed.hidden = panel !== "closed";
  ui.ended.hidden = panel !== "ended";
  ui.refused.hidden = panel !== "refused";
  ui.leave.hidden = !(panel === "composer" && token);
  if (panel !== "composer") stopTyping();
}

function renderStatus() {
  let text = "";
  if (!view) {
    text = !token && serviceOpen ? T.start_hint : "";
  } else if (view.state === "queued") {
    if (view.queue_position === 1) text = T.queue_next;
    else if (view.queue_position) text = format(T.queue_position, { position: view.queue_position });
    else text = T.queue_waiting;
    const minutes = view.estimated_wait_minutes;
    if (minutes) text += ` ${minutes === 1 ? T.wait_one : format(T.wait_many, { minutes })}`;
  } else if (view.state === "active") {
    text = format(T.active, { name: view.counsellor || T.counsellor });
  }
  if (ui.status.textContent !== text) ui.status.textContent = text;
}

function applyView(next) {
  if (!next || !token) return;
  view = next;
  if ((next.staff_read_seq || 0) > staffReadSeq) {
    staffReadSeq = next.staff_read_seq;
    updateReadMarks();
  }
  show(ENDED.has(next.state) ? "ended" : "composer");
  offerSurvey(next);
  renderStatus();
}

// The survey after the chat: the server gives its link only once the chat has ended and
// until it is answered. Opens in this tab, so quick exit and removing still work from here.
function offerSurvey(next) {
  const offer = $("survey-offer");
  const link = $("survey-link");
  if (!offer || !link) return;
  const url = ENDED.has(next.state) && next.survey_url;
  offer.hidden = !url;
  if (url) link.href = lang === "en" ? `${url}?lang=en` : url;
}

function forgetConversation() {
  if (token) storage.remove(seqKey(token));
  storage.remove(KEY_CONVERSATION);
  token = null;
  view = null;
  firstResume = false;
  clearShown();
  hideTyping();
}

function startOver() {
  forgetConversation();
  failAll();
  for (const el of ui.messages.querySelectorAll(".msg--failed")) el.remove();
  show(serviceOpen ? "composer" : "closed");
  renderStatus();
  // A fresh connection, so nothing of the old conversation's room reaches this page.
  socket.disconnect().connect();
  if (serviceOpen) ui.body.focus();
}

// --- notices and connection -----------------------------------------------------------------

let noticeTimer = null;
function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(hideNotice, 10000);
}
function hideNotice() {
  ui.notice.hidden = true;
  ui.notice.textContent = "";
}

let offlineTimer = null;
function setOnline(online) {
  clearTimeout(offlineTimer);
  if (online) {
    ui.connection.hidden = true;
    return;
  }
  // Not for the blink of a normal (re)connect.
  offlineTimer = setTimeout(() => {
    ui.connection.textContent = T.offline;
    ui.connection.hidden = false;
  }, 1500);
}

let typingHideTimer = null;
function showTyping() {
  ui.typing.textContent = format(T.typing, { name: (view && view.counsellor) || T.counsellor });
  ui.typing.hidden = false;
  clearTimeout(typingHideTimer);
  typingHideTimer = setTimeout(hideTyping, 10000);
  scrollDown(ui.scroll);
}
function hideTyping() {
  clearTimeout(typingHideTimer);
  ui.typing.hidden = true;
}

// --- the socket -------------------------------------------------------------------------------

const socket = io("/chat");

function onMessageAck(item, ack) {
  if (ack.ok) {
    if (ack.token && ack.token !== token) {
      setToken(ack.token);
      seenBefore = 0;
    }
    addMessage(ack.message);
    if (ack.conversation) applyView(ack.conversation);
    return "done";
  }
  const code = ack.error && ack.error.code;
  switch (code) {
    case "invalid":
      failPending(item);
      showNotice(T.error_invalid);
      return "drop";
    case "rate_limited":
      showNotice(T.error_rate_limited);
      return 10000;
    case "conversation_ended":
      failAll();
      showNotice(T.error_conversation_ended);
      if (view) view.state = "wrap_up";
      show("ended");
      renderStatus();
      return "drop";
    case "service_closed":
      failAll();
      showNotice(T.error_service_closed);
      show("closed");
      return "drop";
    case "queue_full":
    case "too_many_chats":
    case "blocked":
      // Kept out of the chat (a full queue, a flood, a block): the form is the way in.
      failAll();
      show("refused");
      ui.refusedText.textContent = T[`error_${code}`];
      return "drop";
    case "not_found":
      // The conversation is gone (e.g. purged): the next try opens a new one.
      forgetConversation();
      showNotice(T.error_not_found);
      return 1000;
    default:
      showNotice(T.error_server_error);
      return 3000;
  }
}

const outbox = new Outbox({
  socket,
  event: "message",
  payload: (item) =>
    token
      ? { token, client_msg_id: item.client_msg_id, body: item.body }
      : { service: slug, visitor: visitorToken(), lang, client_msg_id: item.client_msg_id, body: item.body },
  decide: onMessageAck,
  save: savePending,
});

// Catch up after a (re)connect, and then send what waits; with `gap`, only fill a gap.
function resume(gap = false) {
  const asked = token;
  catchingUp = true;
  socket.timeout(8000).emit("resume", { token: asked, last_seq: transcript.complete }, (err, ack) => {
    if (asked !== token) return;
    catchingUp = false;
    if (err) {
      if (socket.connected) setTimeout(() => resume(gap), 2000);
      return;
    }
    if (ack.ok) {
      transcript.caughtUp(ack.messages);
      for (const message of ack.messages) addMessage(message);
      applyView(ack.conversation);
    } else if (["not_found", "invalid"].includes(ack.error && ack.error.code)) {
      forgetConversation();
      show(serviceOpen || outbox.items.length ? "composer" : "closed");
      renderStatus();
    } else if (socket.connected) {
      setTimeout(() => resume(gap), 3000);
      return;
    }
    if (gap) return;
    firstResume = false;
    outbox.restart();
  });
}

// A message more than one past the last without a gap: one before it is still on its way, was
// lost with a connection, or was a note. Ask for what is missing, one resume at a time.
function fillGap() {
  if (token && socket.connected && !catchingUp && transcript.gap) resume(true);
}

socket.on("connect", () => {
  setOnline(true);
  if (token) resume();
  else outbox.restart();
});
socket.on("disconnect", (reason) => {
  setOnline(false);
  hideTyping();
  typingOn = false;
  if (reason === "io server disconnect") socket.connect();
});
socket.on("connect_error", () => setOnline(false));
socket.on("message", (message) => token && addMessage(message));
socket.on("state", (next) => applyView(next));
socket.on("queue", (queue) => {
  if (view && view.state === "queued") {
    Object.assign(view, queue);
    renderStatus();
  }
});
socket.on("typing", ({ typing }) => (token && typing ? showTyping() : hideTyping()));
socket.on("read", ({ seq }) => {
  if (seq > staffReadSeq) {
    staffReadSeq = seq;
    updateReadMarks();
  }
});

// --- typing and reading ---------------------------------------------------------------------

let typingOn = false;
let typingSentAt = 0;
let typingIdleTimer = null;

function noteTyping() {
  if (!token || !socket.connected) return;
  if (!ui.body.value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (!typingOn || now - typingSentAt >= TYPING_EVERY_MS) {
    socket.emit("typing", { typing: true });
    typingOn = true;
    typingSentAt = now;
  }
  clearTimeout(typingIdleTimer);
  typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingIdleTimer);
  if (typingOn && socket.connected) socket.emit("typing", { typing: false });
  typingOn = false;
}

function markRead() {
  if (document.visibilityState !== "visible" || !token || !socket.connected) return;
  if (highestCounsellorSeq > lastReadSent) {
    lastReadSent = highestCounsellorSeq;
    socket.emit("read", { seq: highestCounsellorSeq });
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    unseen = 0;
    document.title = baseTitle;
    markRead();
  }
});

// --- the composer ---------------------------------------------------------------------------

function updateCounter() {
  const count = textLength(ui.body.value);
  const near = count >= maxLength * 0.8;
  ui.counter.hidden = !near;
  ui.counter.textContent = near ? format(T.counter, { count, max: maxLength }) : "";
  ui.counter.classList.toggle("counter--over", count > maxLength);
}

function send() {
  const text = ui.body.value.trim();
  if (!text) {
    showNotice(T.error_empty);
    return;
  }
  if (textLength(text) > maxLength) {
    showNotice(format(T.error_too_long, { max: maxLength }));
    return;
  }
  hideNotice();
  stopTyping();
  const item = { client_msg_id: uuid(), body: text, created_at: new Date().toISOString() };
  ui.body.value = "";
  updateCounter();
  showPending(item);
  outbox.add(item);
  ui.body.focus();
}

wireComposer(ui.composer, ui.body, send);
ui.body.addEventListener("input", () => {
  updateCounter();
  noteTyping();
});
ui.body.addEventListener("blur", stopTyping);

ui.leave.addEventListener("click", () => {
  if (!token || !window.confirm(T.confirm_leave)) return;
  if (!socket.connected) {
    showNotice(T.offline);
    return;
  }
  const asked = token;
  socket.timeout(8000).emit("leave", { token: asked }, (err, ack) => {
    if (asked !== token) return;
    if (err) {
      showNotice(T.error_try_again);
    } else if (ack.ok) {
      applyView(ack.conversation);
    } else if (ack.error.code === "conversation_ended") {
      if (view) view.state = "wrap_up";
      show("ended");
      renderStatus();
    } else if (ack.error.code === "not_found") {
      startOver();
    } else {
      showNotice(T.error_try_again);
    }
  });
});

ui.restart.addEventListener("click", startOver);
ui.tryAgain.addEventListener("click", startOver);

ui.forget.addEventListener("click", () => {
  if (!window.confirm(T.confirm_forget)) return;
  const wipe = () => {
    forgetEverything();
    window.location.replace(window.location.href);
  };
  if (token && view && !ENDED.has(view.state) && socket.connected) {
    socket.timeout(3000).emit("leave", { token }, wipe);
  } else {
    wipe();
  }
});

// --- start --------------------------------------------------------------------------------

const waiting = loadPending();
show(token || serviceOpen || waiting.length ? "composer" : "closed");
renderStatus();
for (const item of waiting) {
  showPending(item);
  outbox.items.push(item);
}
updateCounter();
