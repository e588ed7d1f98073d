// The staff inbox: a live list of conversations and the one that is open.
import { io } from "../vendor/socket.io.esm.min.js";
import {
  Outbox,
  clock,
  element,
  format,
  messageElement,
  nearBottom,
  readJson,
  scrollDown,
  setSendStatus,
  storage,
  uuid,
  wireComposer,
} from "./common.js";
import { wireBlock } from "./block.js";
import { Transcript } from "./transcript.js";

const T = readJson("i18n");
const $ = (id) => document.getElementById(id);
const root = $("main");
const me = Number(root.dataset.me);
const lang = document.documentElement.lang;
const DEFAULT_STATES = ["queued", "active", "wrap_up"];
const KEY_SOUND = "helpline.inbox.sound";

const ui = {
  connection: $("connection"),
  signedOut: $("signed-out"),
  notices: $("notices"),
  sound: $("sound"),
  takeCalls: $("take-calls"),
  takeCallsHint: $("take-calls-hint"),
  ringStatus: $("ring-status"),
  filters: $("filters"),
  list: $("list"),
  listEmpty: $("list-empty"),
  placeholder: $("placeholder"),
  conv: $("conv"),
  title: $("conv-title"),
  meta: $("conv-meta"),
  claim: $("claim"),
  transferBox: $("transfer-box"),
  transferTo: $("transfer-to"),
  transfer: $("transfer"),
  end: $("end"),
  bookFollowup: $("book-followup"),
  exportForm: $("export-form"),
  messages: $("messages"),
  typing: $("typing"),
  wrapUp: $("wrap-up"),
  wrapUpHeading: $("wrap-up-heading"),
  categoriesLoading: $("categories-loading"),
  categoryChoices: $("category-choices"),
  categoriesError: $("categories-error"),
  summary: $("summary"),
  summaryCount: $("summary-count"),
  summaryError: $("summary-error"),
  wrapUpError: $("wrap-up-error"),
  wrapUpSubmit: $("wrap-up-submit"),
  wrapUpCancel: $("wrap-up-cancel"),
  closedInfo: $("closed-info"),
  closedCategories: $("closed-categories"),
  closedSummaryLine: $("closed-summary-line"),
  closedSummary: $("closed-summary"),
  recategorise: $("recategorise"),
  referrals: $("referrals"),
  referralsEmpty: $("referrals-empty"),
  referralForm: $("referral-form"),
  referralKind: $("referral-kind"),
  referralDate: $("referral-date"),
  referralNote: $("referral-note"),
  referralError: $("referral-error"),
  referralAdd: $("referral-add"),
  composer: $("composer"),
  body: $("body"),
  bodyLabel: $("body-label"),
  note: $("note"),
  hint: $("composer-hint"),
  send: $("send"),
  history: $("history"),
  historyEmpty: $("history-empty"),
  phone: $("phone"),
  phoneStage: $("phone-stage"),
  phoneCaller: $("phone-caller"),
  phoneTalk: $("phone-talk"),
  callBackBox: $("call-back-box"),
  callBack: $("call-back"),
  callBackWhy: $("call-back-why"),
  voicemail: $("voicemail"),
  voicemailLabel: $("voicemail-label"),
  voicemailAudio: $("voicemail-audio"),
  deleteVoicemail: $("delete-voicemail"),
  voicemailDeleted: $("voicemail-deleted"),
};

const rows = new Map(); // conversation id -> summary row shown in the list
const rowEls = new Map(); // conversation id -> <li>
const outboxes = new Map(); // conversation id -> Outbox of that conversation's unsent messages
const drafts = new Map(); // conversation id -> unsent text in the composer
const wrapDrafts = new Map(); // conversation id -> {summary, checked} of an unfinished wrap-up
const canBook = root.dataset.canBook === "true";
const recategorisesAny = root.dataset.recategorisesAny === "true";
const blocksAny = root.dataset.blocksAny === "true";
let filters = readFilters();
let current = null; // the opened conversation
const blocking = wireBlock({ act, notice, opened: () => current.summary, strings: T });
let signedOut = false;

// --- small helpers -------------------------------------------------------------------------

function notice(text, action) {
  const item = element("div", "notice-item");
  item.append(element("span", "", text));
  if (action) {
    const go = element("button", "button button--small", action.label);
    go.type = "button";
    go.addEventListener("click", () => {
      action.run();
      item.remove();
    });
    item.append(go);
  }
  const close = element("button", "notice-item__close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.addEventListener("click", () => item.remove());
  item.append(close);
  ui.notices.append(item);
  setTimeout(() => item.remove(), 12000);
}

function refused(ack) {
  const error = (ack && ack.error) || {};
  if (error.code === "unauthorized") {
    showSignedOut();
    return;
  }
  notice(error.message || T.error_timeout);
}

function showSignedOut() {
  signedOut = true;
  ui.signedOut.hidden = false;
  ui.connection.textContent = "";
  ui.connection.className = "conn conn--offline";
}

function since(iso) {
  return iso ? Date.now() - new Date(iso).getTime() : 0;
}

function stopwatch(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function ago(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  if (minutes < 1) return "<1 min";
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function timeText(row) {
  if (row.state === "queued") return format(T.waiting_for, { time: stopwatch(since(row.waiting_since || row.created_at)) });
  if (row.state === "closed") return clock(row.closed_at, lang);
  return format(T.since, { time: ago(since(row.last_message_at || row.created_at)) });
}

// --- the phone line -------------------------------------------------------------------------

/** A call waiting in the queue for someone to accept it. */
function ringing(row) {
  return Boolean(row && row.phone && row.phone.stage === "ringing" && row.state === "queued");
}

/** m:ss since `iso`, kept current by the one-second interval. */
function timer(iso) {
  const el = element("span", "timer", stopwatch(since(iso)));
  el.dataset.since = iso || "";
  return el;
}

function callerText(phone) {
  return phone.withheld ? T.withheld : phone.caller || "";
}

function stageText(row) {
  const { stage, voicemail } = row.phone;
  // Still "ringing" once claimed: the caller is being put through to the counsellor's phone.
  if (stage === "ringing") return T.stage_putting_through;
  if (stage === "voicemail" && voicemail) {
    if (voicemail.deleted) return T.stage_voicemail_deleted;
    return format(T.stage_voicemail, { time: stopwatch((voicemail.seconds || 0) * 1000) });
  }
  return T[`stage_${stage}`] || stage;
}

function stageBadge(row) {
  if (!ringing(row)) return badge(stageText(row), `stage-${row.phone.stage}`);
  const el = badge(`${T.stage_ringing} `, "ringing");
  el.append(timer(row.waiting_since || row.created_at));
  return el;
}

function channelLabel(row) {
  const el = element("span", `row__channel row__channel--${row.channel}`);
  if (row.channel === "phone") {
    const icon = element("span", "phone-icon", "☎");
    icon.setAttribute("aria-hidden", "true");
    el.append(icon);
  }
  el.append(T[`channel_${row.channel}`] || row.channel);
  return el;
}

// --- sound ------------------------------------------------------------------------------------

let audio = null;
let soundOn = storage.get(KEY_SOUND) === "on";
ui.sound.checked = soundOn;

function unlockAudio() {
  if (!soundOn) return;
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

function chime(tones = [660, 880]) {
  if (!soundOn) return;
  unlockAudio();
  if (!audio) return;
  const start = audio.currentTime + 0.01;
  tones.forEach((frequency, i) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    const t = start + i * 0.18;
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.4);
  });
}

ui.sound.addEventListener("change", () => {
  soundOn = ui.sound.checked;
  storage.set(KEY_SOUND, soundOn ? "on" : "off");
  if (soundOn) chime();
});
// Browsers only allow sound after the person has interacted with the page.
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

function ring() {
  chime([880, 660, 880, 660]);
}

// --- the list -------------------------------------------------------------------------------

function readFilters() {
  const form = new FormData(ui.filters);
  return {
    service: form.get("service") || "",
    channel: form.get("channel") || "",
    state: form.get("state") || "",
    mine: form.get("mine") === "on",
  };
}

function listPayload() {
  const payload = {};
  if (filters.service) payload.service = filters.service;
  if (filters.channel) payload.channel = filters.channel;
  if (filters.state) payload.states = [filters.state];
  if (filters.mine) payload.mine = true;
  return payload;
}

function matches(row) {
  if (filters.service && row.service !== filters.service) return false;
  if (filters.channel && row.channel !== filters.channel) return false;
  if (!(filters.state ? [filters.state] : DEFAULT_STATES).includes(row.state)) return false;
  if (filters.mine && !(row.assignee && row.assignee.id === me)) return false;
  return true;
}

function compare(a, b) {
  if (filters.state) {
    return (b.created_at || "").localeCompare(a.created_at || "") || b.id - a.id;
  }
  const queued = (a.state !== "queued") - (b.state !== "queued");
  if (queued) return queued;
  const aw = a.waiting_since || "\uffff";
  const bw = b.waiting_since || "\uffff";
  return aw.localeCompare(bw) || b.id - a.id;
}

function badge(text, modifier) {
  return element("span", `badge ${modifier ? `badge--${modifier}` : ""}`, text);
}

function fillRow(li, row) {
  const button = li.firstElementChild;
  const ringingClass = ringing(row) ? " row--ringing" : "";
  button.className = `row row--${row.state}${ringingClass}${current && current.id === row.id ? " row--current" : ""}`;
  if (current && current.id === row.id) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");
  const top = element("span", "row__top");
  top.append(element("span", "row__service", row.service_name), badge(T[`state_${row.state}`] || row.state, row.state));
  if (row.phone) top.append(stageBadge(row));
  if (row.unread) top.append(badge(format(T.unread, { count: row.unread }), "unread"));
  const middle = element("span", "row__middle");
  middle.append(channelLabel(row));
  if (row.phone) middle.append(element("span", "row__caller", callerText(row.phone)));
  // A ringing call's badge already counts the waiting time.
  if (!ringing(row)) {
    const time = element("span", "row__time", timeText(row));
    time.dataset.id = String(row.id);
    middle.append(time);
  }
  middle.append(element("span", "row__assignee", row.assignee ? row.assignee.name : T.unassigned));
  const flags = element("span", "row__flags");
  if (row.phone && row.phone.callback_under_way) flags.append(badge(T.calling_back, "calling"));
  if (row.channel === "chat" && !row.visitor_present && row.state !== "closed") {
    flags.append(badge(T.visitor_gone, "gone"));
  }
  if (row.earlier_conversations) {
    const text = row.earlier_conversations === 1 ? T.earlier_one : format(T.earlier_many, { count: row.earlier_conversations });
    flags.append(badge(text, "earlier"));
  }
  button.replaceChildren(top, middle);
  if (flags.childElementCount) button.append(flags);
  if (row.categories && row.categories.length) button.append(categoryTags(row.categories, "row__tags"));
}

function categoryTags(categories, className) {
  const tags = element("span", `tags ${className}`);
  for (const category of categories) tags.append(element("span", "tag", category.name));
  return tags;
}

function renderList() {
  const ordered = [...rows.values()].sort(compare);
  const keep = new Set(ordered.map((r) => r.id));
  for (const [id, li] of rowEls) {
    if (!keep.has(id)) {
      li.remove();
      rowEls.delete(id);
    }
  }
  let previous = null;
  for (const row of ordered) {
    let li = rowEls.get(row.id);
    if (!li) {
      li = element("li", "conv-list__item");
      const button = element("button", "row");
      button.type = "button";
      button.addEventListener("click", () => openConversation(row.id));
      li.append(button);
      rowEls.set(row.id, li);
    }
    fillRow(li, row);
    const expected = previous ? previous.nextElementSibling : ui.list.firstElementChild;
    if (expected !== li) {
      if (previous) previous.after(li);
      else ui.list.prepend(li);
    }
    previous = li;
  }
  ui.listEmpty.hidden = ordered.length > 0;
  updateTitle();
}

function updateTitle() {
  let count = 0;
  let calls = 0;
  for (const row of rows.values()) {
    if (row.state === "queued") count += 1;
    else if (row.assignee && row.assignee.id === me) count += row.unread || 0;
    if (ringing(row)) calls += 1;
  }
  const title = calls ? `${T.ringing_title} · ${T.title}` : T.title;
  document.title = count ? `(${count}) ${title}` : title;
}

let listAsked = 0;
let liveDuringList = null;

function requestList() {
  const asked = ++listAsked;
  liveDuringList = [];
  socket.timeout(8000).emit("list", listPayload(), (err, ack) => {
    if (asked !== listAsked) return;
    if (err) {
      if (socket.connected) setTimeout(requestList, 2000);
      return;
    }
    const late = liveDuringList || [];
    liveDuringList = null;
    if (!ack.ok) {
      refused(ack);
      return;
    }
    rows.clear();
    for (const row of ack.conversations) rows.set(row.id, row);
    // Updates that crossed the list's answer on the wire are newer than it.
    for (const row of late) place(row);
    renderList();
  });
}

function place(row) {
  if (matches(row)) rows.set(row.id, row);
  else rows.delete(row.id);
}

function upsert(row) {
  if (!row || !row.id) return;
  const before = rows.get(row.id) || (current && current.id === row.id ? current.summary : null);
  if (liveDuringList) liveDuringList.push(row);
  place(row);
  renderList();
  if (row.phone) noticeCall(before, row);
  if (current && current.id === row.id) {
    current.summary = row;
    renderHead();
    markRead();
  }
}

function noticeCall(before, row) {
  if (ringing(row) && !ringing(before)) {
    ui.ringStatus.textContent = format(T.ring_status, { service: row.service_name });
    // A new call rings with `new_conversation`; this is one back in the queue.
    if (before) ring();
  }
  if (ringing(row) && before && before.phone && before.phone.stage === "connected" && mine(before)) {
    // The server takes a counsellor whose phone did not answer off the line.
    ui.takeCalls.checked = false;
    notice(T.takes_calls_off);
  }
}

ui.filters.addEventListener("change", () => {
  filters = readFilters();
  rows.clear();
  renderList();
  requestList();
});
ui.filters.addEventListener("submit", (event) => event.preventDefault());

setInterval(() => {
  for (const el of ui.list.querySelectorAll(".row__time")) {
    const row = rows.get(Number(el.dataset.id));
    if (row) el.textContent = timeText(row);
  }
  for (const el of document.querySelectorAll(".timer")) el.textContent = stopwatch(since(el.dataset.since));
}, 1000);

// --- the opened conversation --------------------------------------------------------------

function mine(summary) {
  return Boolean(summary && summary.assignee && summary.assignee.id === me);
}

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
  const visitor = message.sender === "visitor";
  return messageElement(message, {
    className: `${visitor ? "msg--theirs" : "msg--mine"}${note ? " msg--note" : ""}`,
    label: note ? T.note_label : undefined,
    author: visitor ? T.visitor : message.author || T.you,
    lang,
    linkWarning: T.link_warning,
    status: !visitor,
  });
}

function addMessage(message) {
  const c = current;
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
  if (message.sender === "visitor") {
    c.highestVisitorSeq = Math.max(c.highestVisitorSeq, message.seq);
    hideTyping();
  }
  markRead();
  if (follow || message.sender !== "visitor") scrollDown(ui.messages, true);
  // Staff see every seq: a gap is a message still on its way or lost with a connection.
  if (c.transcript.gap && !c.catchingUp) requestOpen();
}

function showPending(item) {
  const el = buildMessage({
    sender: "counsellor",
    kind: item.note ? "note" : "text",
    body: item.body,
    author: root.dataset.meName,
    created_at: item.created_at,
  });
  setSendStatus(el, T.sending, "pending");
  current.pendingEls.set(item.client_msg_id, el);
  ui.messages.append(el);
  scrollDown(ui.messages, true);
}

function updateReadMarks() {
  const c = current;
  for (const [seq, el] of c.transcript.entries()) {
    if (seq <= c.visitorReadSeq && el.classList.contains("msg--mine") && !el.classList.contains("msg--note")) {
      setSendStatus(el, T.read);
    }
  }
}

function markRead() {
  const c = current;
  if (!c || document.visibilityState !== "visible" || !socket.connected || !mine(c.summary)) return;
  if (c.highestVisitorSeq > c.lastReadSent) {
    c.lastReadSent = c.highestVisitorSeq;
    socket.emit("read", { conversation_id: c.id, seq: c.highestVisitorSeq });
  }
}

document.addEventListener("visibilitychange", markRead);

function renderHead() {
  const s = current && current.summary;
  if (!s) return;
  ui.title.textContent = `${s.service_name} · ${T[`channel_${s.channel}`] || s.channel}`;
  const meta = [badge(T[`state_${s.state}`] || s.state, s.state)];
  meta.push(element("span", "", s.assignee ? format(T.with, { name: s.assignee.name }) : T.unassigned));
  if (s.channel === "chat" && !s.visitor_present && s.state !== "closed") meta.push(badge(T.visitor_gone, "gone"));
  if (s.earlier_conversations) {
    meta.push(
      badge(
        s.earlier_conversations === 1 ? T.earlier_one : format(T.earlier_many, { count: s.earlier_conversations }),
        "earlier",
      ),
    );
  }
  ui.meta.replaceChildren(...meta);

  ui.claim.hidden = s.state !== "queued";
  ui.claim.textContent = ringing(s) ? T.accept_call : T.claim;
  ui.end.hidden = !["queued", "active"].includes(s.state);
  blocking.render(s, mine(s) || blocksAny);
  ui.end.textContent = s.channel === "phone" ? T.end_conversation : T.end_chat;
  const transferable = s.state === "active";
  if (transferable && ui.transferBox.hidden) loadColleagues();
  ui.transferBox.hidden = !transferable;
  ui.bookFollowup.hidden = !canBook || s.state === "closed";
  ui.bookFollowup.href = `/followup/book/${s.id}`;
  renderWrapUp(s);
  // A contact form can be passed on as an anonymised report (a download; recorded server-side).
  ui.exportForm.hidden = s.channel !== "form";
  ui.exportForm.action = s.channel === "form" ? `/inbox/conversations/${s.id}/export` : "";

  // A caller cannot read replies: a phone conversation takes notes only.
  const canReply = s.state === "active" && mine(s) && s.channel !== "phone";
  if (!canReply) {
    ui.note.checked = true;
    current.noteForced = true;
  } else if (current.noteForced) {
    ui.note.checked = false;
    current.noteForced = false;
  }
  ui.note.disabled = !canReply;
  if (canReply) ui.hint.textContent = T_HINT;
  else if (s.channel === "phone") ui.hint.textContent = T.phone_notes_only;
  else if (s.state === "queued") ui.hint.textContent = T.claim_to_reply;
  else if (s.state === "active") ui.hint.textContent = T.not_yours;
  else ui.hint.textContent = T.notes_only;
  if (!["queued", "active"].includes(s.state)) hideTyping();
  renderComposerMode();
  renderPhone(s);
}

const T_HINT = ui.hint.textContent;

function renderPhone(s) {
  const phone = s.channel === "phone" ? s.phone : null;
  ui.phone.hidden = !phone;
  if (!phone) {
    setVoicemailSource("");
    return;
  }
  ui.phoneStage.replaceChildren(stageBadge(s));
  const caller = phone.caller ? format(T.caller, { digits: phone.caller }) : "";
  ui.phoneCaller.textContent = phone.withheld ? T.withheld : caller;
  const facts = [];
  if (phone.talk_seconds !== null && phone.talk_seconds !== undefined) {
    facts.push(format(T.talk_time, { time: stopwatch(phone.talk_seconds * 1000) }));
  }
  if (phone.callbacks) {
    facts.push(phone.callbacks === 1 ? T.callbacks_one : format(T.callbacks_many, { count: phone.callbacks }));
  }
  ui.phoneTalk.textContent = facts.join(" · ");
  renderCallBack(s, phone);
  renderVoicemail(s, phone);
}

function renderCallBack(s, phone) {
  // While the call waits in the queue, accepting it is the answer, not calling back.
  ui.callBackBox.hidden = ringing(s);
  const calling = phone.callback_under_way || current.callingBack;
  ui.callBack.textContent = calling ? T.calling : T.call_back;
  ui.callBack.disabled = calling || !phone.can_call_back;
  ui.callBackWhy.textContent = phone.can_call_back ? "" : phone.call_back_refusal || "";
}

function renderVoicemail(s, phone) {
  const voicemail = phone.voicemail;
  const playable = Boolean(voicemail && !voicemail.deleted);
  ui.voicemail.hidden = !playable;
  ui.voicemailDeleted.hidden = !(voicemail && voicemail.deleted);
  if (playable) {
    ui.voicemailLabel.textContent = format(T.voicemail_label, { time: stopwatch((voicemail.seconds || 0) * 1000) });
  }
  ui.deleteVoicemail.disabled = Boolean(current.deletingVoicemail);
  setVoicemailSource(playable ? `/phone/voicemail/${s.id}` : "");
}

/** Point the player at a voicemail; only a change of voicemail interrupts what is playing. */
function setVoicemailSource(url) {
  const player = ui.voicemailAudio;
  if ((player.getAttribute("src") || "") === url) return;
  player.pause();
  if (url) {
    player.setAttribute("src", url);
  } else {
    player.removeAttribute("src");
    player.load();
  }
}

function renderComposerMode() {
  const note = ui.note.checked;
  ui.composer.classList.toggle("composer--note", note);
  ui.bodyLabel.textContent = note ? T.note_label_short : T.reply_label;
  ui.send.textContent = note ? T.add_note : T.send;
}

ui.note.addEventListener("change", () => {
  if (!ui.note.checked) current.noteForced = false;
  stopTyping();
  renderComposerMode();
});

function openConversation(id) {
  if (current && current.id === id) return;
  if (current) {
    drafts.set(current.id, ui.body.value);
    keepWrapDraft();
    stopTyping();
    if (socket.connected) socket.emit("close_view", { conversation_id: current.id });
  }
  current = {
    id,
    summary: rows.get(id) || null,
    transcript: new Transcript(ui.messages),
    catchingUp: false, // an `open` is on its way
    pendingEls: new Map(),
    highestVisitorSeq: 0,
    visitorReadSeq: 0,
    lastReadSent: 0,
    noteForced: false,
    historyAsked: false,
    callingBack: false,
    deletingVoicemail: false,
    wrapMode: null, // "close" or "correct" while the wrap-up form shows
    correcting: false,
    checked: new Set(), // category ids ticked in the wrap-up form
    categoryTree: null,
    submitting: false,
    closedSummary: null, // known once this view closed or corrected it
    referrals: [],
  };
  ui.phone.hidden = true;
  setVoicemailSource("");
  ui.placeholder.hidden = true;
  ui.conv.hidden = false;
  ui.messages.replaceChildren();
  ui.history.replaceChildren();
  ui.historyEmpty.hidden = false;
  ui.summary.value = "";
  renderReferrals();
  resetReferralForm();
  ui.body.value = drafts.get(id) || "";
  hideTyping();
  renderHead();
  const box = outboxes.get(id);
  if (box) for (const item of box.items) showPending(item);
  renderList();
  requestOpen();
}

function requestOpen() {
  const c = current;
  if (!c || !socket.connected) return;
  const payload = { conversation_id: c.id, since_seq: c.transcript.complete };
  const stale = () => c !== current;
  c.catchingUp = true;
  const settled = () => {
    c.catchingUp = false;
  };
  ask("open", payload, stale, (ack) => {
    c.summary = ack.conversation;
    if (rows.has(c.id) || matches(ack.conversation)) upsert(ack.conversation);
    // `open` may one day carry the summary; until then it is known only after closing here.
    if (typeof ack.summary === "string") c.closedSummary = ack.summary;
    c.referrals = ack.referrals || [];
    renderHead();
    renderReferrals();
    c.transcript.caughtUp(ack.messages);
    for (const message of ack.messages) addMessage(message);
    if ((ack.visitor_read_seq || 0) > c.visitorReadSeq) {
      c.visitorReadSeq = ack.visitor_read_seq;
      updateReadMarks();
    }
    if (!c.historyAsked && ack.conversation.earlier_conversations > 0) loadHistory(c);
    markRead();
  }, settled);
}

function loadHistory(c) {
  c.historyAsked = true;
  socket.timeout(8000).emit("history", { conversation_id: c.id }, (err, ack) => {
    if (c !== current || err) return;
    if (!ack.ok) {
      refused(ack);
      return;
    }
    ui.history.replaceChildren();
    for (const row of ack.conversations) {
      const li = element("li");
      const button = element("button", "history__item");
      button.type = "button";
      const when = new Date(row.created_at);
      button.append(
        element("span", "history__when", when.toLocaleDateString(lang, { day: "numeric", month: "short", year: "numeric" })),
        element("span", "history__what", `${row.service_name} · ${T[`channel_${row.channel}`] || row.channel} · ${T[`state_${row.state}`] || row.state}`),
      );
      if (row.summary) button.append(element("span", "history__summary", row.summary));
      button.addEventListener("click", () => openConversation(row.id));
      li.append(button);
      ui.history.append(li);
    }
    ui.historyEmpty.hidden = ack.conversations.length > 0;
  });
}

// --- actions --------------------------------------------------------------------------------

/**
 * Emit `event` and pass the answer to `done` if the server agreed; a timeout or a refusal is
 * shown instead. Once `stale()` is true (e.g. another conversation was opened) the answer is
 * ignored altogether.
 */
function ask(event, payload, stale, done, settled = () => {}) {
  socket.timeout(8000).emit(event, payload, (err, ack) => {
    if (stale()) return;
    settled();
    if (err) {
      notice(T.error_timeout);
      return;
    }
    if (!ack.ok) {
      refused(ack);
      return;
    }
    done(ack);
  });
}

function act(event, payload, after, settled) {
  if (!socket.connected) {
    notice(T.offline);
    if (settled) settled();
    return;
  }
  ask(
    event,
    payload,
    () => false,
    (ack) => {
      if (ack.conversation) upsert(ack.conversation);
      if (after) after(ack);
    },
    settled,
  );
}

ui.claim.addEventListener("click", () => {
  act("claim", { conversation_id: current.id }, () => ui.body.focus());
});

ui.end.addEventListener("click", () => {
  const question = current.summary && current.summary.channel === "phone" ? T.confirm_end_phone : T.confirm_end;
  if (window.confirm(question)) act("end", { conversation_id: current.id });
});

/** Run a phone action on the open conversation, with `flag` set on it until the answer. */
function phoneAction(event, flag, after) {
  const c = current;
  c[flag] = true;
  renderHead();
  act(event, { conversation_id: c.id }, after, () => {
    c[flag] = false;
    if (c === current) renderHead();
  });
}

ui.callBack.addEventListener("click", () => {
  phoneAction("call_back", "callingBack", () => notice(T.call_back_started));
});

ui.deleteVoicemail.addEventListener("click", () => {
  if (window.confirm(T.confirm_delete_voicemail)) phoneAction("delete_voicemail", "deletingVoicemail");
});

// --- taking calls ---------------------------------------------------------------------------

const hasPhone = root.dataset.hasPhone === "true";
ui.takeCalls.checked = root.dataset.takesCalls === "true";
ui.takeCalls.disabled = !hasPhone;
ui.takeCallsHint.hidden = hasPhone;
if (!hasPhone) ui.takeCalls.setAttribute("aria-describedby", "take-calls-hint");

ui.takeCalls.addEventListener("change", () => {
  const on = ui.takeCalls.checked;
  if (!socket.connected) {
    ui.takeCalls.checked = !on;
    notice(T.offline);
    return;
  }
  ui.takeCalls.disabled = true;
  socket.timeout(8000).emit("take_calls", { on }, (err, ack) => {
    ui.takeCalls.disabled = false;
    if (err || !ack.ok) {
      ui.takeCalls.checked = !on;
      if (err) notice(T.error_timeout);
      else refused(ack);
      return;
    }
    ui.takeCalls.checked = ack.takes_calls;
  });
});

function loadColleagues() {
  if (!socket.connected) return;
  socket.timeout(8000).emit("colleagues", {}, (err, ack) => {
    if (err || !ack.ok) return;
    const chosen = ui.transferTo.value;
    const placeholder = new Option(T.choose, "", true, true);
    placeholder.disabled = true;
    const options = [placeholder, new Option(T.back_to_queue, "queue")];
    const assignee = current && current.summary && current.summary.assignee;
    for (const colleague of ack.colleagues) {
      if (assignee && colleague.id === assignee.id) continue;
      const full = colleague.active_chats >= colleague.max_chats;
      const label = format(full ? T.colleague_full : T.colleague, {
        name: colleague.name,
        active: colleague.active_chats,
        max: colleague.max_chats,
      });
      const option = new Option(label, String(colleague.id));
      option.disabled = full;
      options.push(option);
    }
    ui.transferTo.replaceChildren(...options);
    if ([...ui.transferTo.options].some((o) => o.value === chosen && !o.disabled)) ui.transferTo.value = chosen;
  });
}

ui.transferTo.addEventListener("focus", loadColleagues);
ui.transfer.addEventListener("click", () => {
  const value = ui.transferTo.value;
  if (!value) return;
  act("transfer", { conversation_id: current.id, to: value === "queue" ? null : Number(value) }, () =>
    loadColleagues(),
  );
});

// --- wrap-up: categories and summary ----------------------------------------------------------

const SUMMARY_MAX = 2000;
const T_LOADING = ui.categoriesLoading.textContent;
const ARROWS = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };

/** Show the wrap-up form, the closed conversation's categories, or neither. */
function renderWrapUp(s) {
  const c = current;
  if (s.state !== "closed") c.correcting = false;
  const mode = s.state === "wrap_up" ? "close" : c.correcting ? "correct" : null;
  ui.wrapUp.hidden = !mode;
  ui.closedInfo.hidden = s.state !== "closed" || Boolean(mode);
  if (!ui.closedInfo.hidden) renderClosedInfo(s);
  if (mode && mode !== c.wrapMode) startWrapUp(s, mode);
  else if (mode && !c.categoryTree && !c.categoriesAsked) loadCategories(c, s.service);
  c.wrapMode = mode;
}

function startWrapUp(s, mode) {
  const c = current;
  const correcting = mode === "correct";
  const draft = correcting ? null : wrapDrafts.get(c.id);
  ui.wrapUpHeading.textContent = correcting ? T.correct_heading : T.wrap_up;
  ui.wrapUpSubmit.textContent = correcting ? T.save_corrections : T.close_conversation;
  ui.wrapUpCancel.hidden = !correcting;
  c.checked = new Set(correcting ? (s.categories || []).map((x) => x.id) : draft ? draft.checked : []);
  ui.summary.value = correcting ? c.closedSummary || "" : draft ? draft.summary : "";
  // Rows carry no summary: a correction made after a reload writes it anew.
  ui.summary.placeholder = correcting && c.closedSummary === null ? T.summary_unknown : "";
  clearWrapUpErrors();
  updateWrapUp();
  loadCategories(c, s.service);
}

function keepWrapDraft() {
  const c = current;
  if (c && c.wrapMode === "close") wrapDrafts.set(c.id, { summary: ui.summary.value, checked: c.checked });
}

function loadCategories(c, service) {
  c.categoryTree = null;
  ui.categoryChoices.replaceChildren();
  ui.categoriesLoading.textContent = T_LOADING;
  ui.categoriesLoading.hidden = false;
  if (!socket.connected) return; // asked again when `open` answers after reconnecting
  c.categoriesAsked = true;
  socket.timeout(8000).emit("categories", { service }, (err, ack) => {
    if (c !== current) return;
    c.categoriesAsked = false;
    if (err || !ack.ok) {
      ui.categoriesLoading.textContent = T.categories_failed;
      if (ack && !ack.ok) refused(ack);
      return;
    }
    c.categoryTree = ack.categories;
    buildChoices(c);
  });
}

/** The checkboxes: top-level categories numbered 1-9, subcategories under their parent. */
function buildChoices(c) {
  const items = c.categoryTree.map((category, i) => choiceItem(c, category, i < 9 ? i + 1 : null));
  // A correction keeps categories retired since closing, until they are unticked.
  const shown = new Set(c.categoryTree.flatMap((x) => [x.id, ...x.children.map((y) => y.id)]));
  // At closing only what is offered now can be chosen (an admin may have just retired one).
  if (c.wrapMode === "close") c.checked = new Set([...c.checked].filter((id) => shown.has(id)));
  const kept = ((c.summary && c.summary.categories) || []).filter((x) => c.checked.has(x.id) && !shown.has(x.id));
  for (const category of kept) {
    items.push(choiceItem(c, { ...category, name: format(T.retired_category, { name: category.name }), children: [] }));
  }
  ui.categoryChoices.replaceChildren(...items);
  ui.categoriesLoading.textContent = T.no_categories;
  ui.categoriesLoading.hidden = items.length > 0;
  updateWrapUp();
  if (c.focusChoices) {
    c.focusChoices = false;
    const first = ui.categoryChoices.querySelector("input");
    if (first) first.focus();
  }
}

function choiceItem(c, category, number = null) {
  const li = element("li", "category-choice");
  const label = element("label", "category-choice__label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.value = String(category.id);
  box.checked = c.checked.has(category.id);
  if (number) box.dataset.key = String(number);
  box.addEventListener("change", () => {
    if (box.checked) c.checked.add(category.id);
    else c.checked.delete(category.id);
    showFieldError(ui.categoriesError, null);
    updateWrapUp();
  });
  label.append(box);
  if (number) {
    const key = element("kbd", "category-choice__key", String(number));
    key.setAttribute("aria-hidden", "true");
    label.append(key);
  }
  label.append(element("span", "", category.name));
  li.append(label);
  if (category.children && category.children.length) {
    const sub = element("ul", "category-choices category-choices--sub");
    sub.append(...category.children.map((child) => choiceItem(c, child)));
    li.append(sub);
  }
  return li;
}

function updateWrapUp() {
  const c = current;
  const length = [...ui.summary.value].length;
  ui.summaryCount.textContent = `${length} / ${SUMMARY_MAX}`;
  ui.summaryCount.classList.toggle("counter--over", length >= SUMMARY_MAX);
  ui.wrapUpSubmit.disabled = !c || c.submitting || c.checked.size === 0 || !ui.summary.value.trim();
}

function showFieldError(el, text, input) {
  el.textContent = text || "";
  el.hidden = !text;
  if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
}

function clearWrapUpErrors() {
  showFieldError(ui.categoriesError, null);
  showFieldError(ui.summaryError, null, ui.summary);
  showFieldError(ui.wrapUpError, null);
}

function messagesOf(value) {
  if (Array.isArray(value)) return value.flatMap(messagesOf);
  if (value && typeof value === "object") return Object.values(value).flatMap(messagesOf);
  return value ? [String(value)] : [];
}

/** Put a refused close or correction next to the inputs it concerns. */
function showWrapUpError(error) {
  if (error.code === "unauthorized") {
    showSignedOut();
    return;
  }
  const fields = error.code === "invalid" ? { ...(error.fields || {}) } : {};
  if (error.code === "invalid_categories") {
    fields.categories = [error.message];
    loadCategories(current, current.summary.service);
  }
  if (fields.summary) {
    showFieldError(ui.summaryError, messagesOf(fields.summary).join(" "), ui.summary);
    ui.summary.focus();
  }
  if (fields.categories) showFieldError(ui.categoriesError, messagesOf(fields.categories).join(" "));
  delete fields.summary;
  delete fields.categories;
  let rest = [];
  if (error.code === "invalid") rest = messagesOf(fields);
  else if (error.code !== "invalid_categories") rest = [error.message];
  showFieldError(ui.wrapUpError, rest.join(" ") || null);
}

function submitWrapUp() {
  const c = current;
  if (!c || !c.wrapMode || ui.wrapUpSubmit.disabled) return;
  clearWrapUpErrors();
  if (!socket.connected) {
    showWrapUpError({ message: T.offline });
    return;
  }
  const correcting = c.wrapMode === "correct";
  const summary = ui.summary.value.trim();
  const payload = { conversation_id: c.id, summary, categories: [...c.checked] };
  c.submitting = true;
  updateWrapUp();
  socket.timeout(8000).emit(correcting ? "recategorise" : "close", payload, (err, ack) => {
    c.submitting = false;
    if (c !== current) return;
    updateWrapUp();
    if (err || !ack.ok) {
      showWrapUpError(err ? { message: T.error_timeout } : ack.error || {});
      return;
    }
    c.closedSummary = summary;
    c.correcting = false;
    wrapDrafts.delete(c.id);
    upsert(ack.conversation);
    notice(correcting ? T.corrected_ok : T.closed_ok);
    (ui.recategorise.hidden ? ui.closedInfo : ui.recategorise).focus();
  });
}

function renderClosedInfo(s) {
  ui.closedCategories.replaceChildren(categoryTags(s.categories || [], "closed-info__tags"));
  const summary = current.closedSummary;
  ui.closedSummaryLine.hidden = !summary;
  ui.closedSummary.textContent = summary || "";
  ui.recategorise.hidden = !(mine(s) || recategorisesAny);
}

ui.wrapUp.addEventListener("submit", (event) => {
  event.preventDefault();
  submitWrapUp();
});

ui.wrapUp.addEventListener("keydown", (event) => {
  if (event.target === ui.summary) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submitWrapUp();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (/^[1-9]$/.test(event.key)) {
    const box = ui.categoryChoices.querySelector(`input[data-key="${event.key}"]`);
    if (!box) return;
    event.preventDefault();
    box.click();
    box.focus();
    return;
  }
  const step = ARROWS[event.key];
  if (step && event.target.matches("#category-choices input")) {
    const boxes = [...ui.categoryChoices.querySelectorAll("input")];
    const next = boxes[boxes.indexOf(event.target) + step];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }
});

ui.summary.addEventListener("input", () => {
  if (ui.summary.value.trim()) showFieldError(ui.summaryError, null, ui.summary);
  updateWrapUp();
});

ui.recategorise.addEventListener("click", () => {
  current.correcting = true;
  current.focusChoices = true;
  renderHead();
});

ui.wrapUpCancel.addEventListener("click", () => {
  current.correcting = false;
  renderHead();
  ui.recategorise.focus();
});

// --- referrals --------------------------------------------------------------------------------

/** Today as YYYY-MM-DD in the counsellor's own time zone. */
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function localDate(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

function renderReferrals() {
  const c = current;
  const referrals = c ? [...c.referrals].sort((a, b) => a.referred_on.localeCompare(b.referred_on) || a.id - b.id) : [];
  ui.referrals.replaceChildren(...referrals.map((referral) => referralItem(c, referral)));
  ui.referralsEmpty.hidden = referrals.length > 0;
  ui.referralDate.max = today();
  if (!ui.referralDate.value) ui.referralDate.value = today();
}

function referralItem(c, referral) {
  const kind = T[`referral_${referral.kind}`] || referral.kind;
  const date = localDate(referral.referred_on);
  const li = element("li", "referral");
  const line = element("span", "referral__line");
  line.append(element("span", "referral__kind", kind), element("span", "referral__date", date));
  li.append(line);
  if (referral.note) li.append(element("span", "referral__note", referral.note));
  const remove = element("button", "link-button referral__remove", T.remove);
  remove.type = "button";
  remove.setAttribute("aria-label", format(T.remove_referral, { kind, date }));
  remove.addEventListener("click", () => {
    remove.disabled = true;
    const payload = { conversation_id: c.id, referral_id: referral.id };
    ask("remove_referral", payload, () => c !== current, () => {
      c.referrals = c.referrals.filter((r) => r.id !== referral.id);
      renderReferrals();
      ui.referralKind.focus();
    }, () => {
      remove.disabled = false;
    });
  });
  li.append(remove);
  return li;
}

const REFERRAL_FIELDS = { kind: ui.referralKind, referred_on: ui.referralDate, note: ui.referralNote };

/** An empty referral form, dated today, for the conversation just opened. */
function resetReferralForm() {
  for (const input of Object.values(REFERRAL_FIELDS)) showFieldError($(`${input.id}-error`), null, input);
  showFieldError(ui.referralError, null);
  ui.referralDate.value = today();
  ui.referralNote.value = "";
}

function showReferralError(error) {
  if (error.code === "unauthorized") {
    showSignedOut();
    return;
  }
  const fields = { ...(error.fields || {}) };
  // Both reasons the server refuses a well-formed referral are its date.
  if (error.code === "invalid_state") fields.referred_on = [error.message];
  for (const [name, input] of Object.entries(REFERRAL_FIELDS)) {
    if (fields[name]) showFieldError($(`${input.id}-error`), messagesOf(fields[name]).join(" "), input);
    delete fields[name];
  }
  let rest = [];
  if (error.code === "invalid") rest = messagesOf(fields);
  else if (error.code !== "invalid_state") rest = [error.message];
  showFieldError(ui.referralError, rest.join(" ") || null);
}

ui.referralForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const c = current;
  if (!c) return;
  for (const input of Object.values(REFERRAL_FIELDS)) showFieldError($(`${input.id}-error`), null, input);
  showFieldError(ui.referralError, null);
  if (!socket.connected) {
    showReferralError({ message: T.offline });
    return;
  }
  const payload = { conversation_id: c.id, kind: ui.referralKind.value, referred_on: ui.referralDate.value };
  const note = ui.referralNote.value.trim();
  if (note) payload.note = note;
  ui.referralAdd.disabled = true;
  socket.timeout(8000).emit("add_referral", payload, (err, ack) => {
    ui.referralAdd.disabled = false;
    if (c !== current) return;
    if (err || !ack.ok) {
      showReferralError(err ? { message: T.error_timeout } : ack.error || {});
      return;
    }
    c.referrals.push(ack.referral);
    renderReferrals();
    ui.referralNote.value = "";
    ui.referralDate.value = today();
  });
});

// --- sending ----------------------------------------------------------------------------------

function outboxFor(id) {
  let box = outboxes.get(id);
  if (!box) {
    box = new Outbox({
      socket,
      event: "message",
      payload: (item) => ({
        conversation_id: item.conversation_id,
        client_msg_id: item.client_msg_id,
        body: item.body,
        note: item.note,
      }),
      decide: (item, ack) => decide(item, ack),
    });
    outboxes.set(id, box);
  }
  return box;
}

function failPending(item) {
  if (!current || current.id !== item.conversation_id) return;
  const el = current.pendingEls.get(item.client_msg_id);
  if (el) setSendStatus(el, T.failed, "failed");
  current.pendingEls.delete(item.client_msg_id);
}

function decide(item, ack) {
  if (ack.ok) {
    addMessage(ack.message);
    return "done";
  }
  const code = ack.error && ack.error.code;
  if (code === "unauthorized") {
    showSignedOut();
    return 10000;
  }
  if (code === "server_error") return 3000;
  failPending(item);
  if (code === "invalid" && ack.error.fields && ack.error.fields.body) {
    notice(ack.error.fields.body.join(" "));
  } else {
    notice(ack.error ? ack.error.message : T.error_timeout);
  }
  return "drop";
}

function send() {
  if (!current) return;
  const text = ui.body.value.trim();
  if (!text) return;
  const item = {
    conversation_id: current.id,
    client_msg_id: uuid(),
    body: text,
    note: ui.note.checked,
    created_at: new Date().toISOString(),
  };
  ui.body.value = "";
  drafts.delete(current.id);
  stopTyping();
  showPending(item);
  outboxFor(current.id).add(item);
}

wireComposer(ui.composer, ui.body, send);

let typingOn = false;
let typingSentAt = 0;
let typingIdle = null;

function noteTyping() {
  // Never tell the visitor about a private note being written.
  if (!current || ui.note.checked || !mine(current.summary) || !socket.connected) return;
  if (!ui.body.value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (!typingOn || now - typingSentAt >= 2000) {
    socket.emit("typing", { conversation_id: current.id, typing: true });
    typingOn = true;
    typingSentAt = now;
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 3000);
}

function stopTyping() {
  clearTimeout(typingIdle);
  if (typingOn && current && socket.connected) {
    socket.emit("typing", { conversation_id: current.id, typing: false });
  }
  typingOn = false;
}

ui.body.addEventListener("input", noteTyping);
ui.body.addEventListener("blur", stopTyping);

let typingHide = null;
function showTyping() {
  ui.typing.hidden = false;
  clearTimeout(typingHide);
  typingHide = setTimeout(hideTyping, 8000);
}
function hideTyping() {
  clearTimeout(typingHide);
  ui.typing.hidden = true;
}

window.addEventListener("beforeunload", (event) => {
  if ([...outboxes.values()].some((box) => box.items.length)) event.preventDefault();
});

// --- the socket -------------------------------------------------------------------------------

const socket = io("/inbox");

// A socket's events keep only the socket's sign-in alive. While the counsellor works in the
// inbox, tell the session cookie as well, now and then, so the next page does not ask to sign
// in again; a tab left alone still reaches the idle timeout.
const RENEW_EVERY_MS = 5 * 60 * 1000;
let renewedAt = Date.now();
socket.onAnyOutgoing(() => {
  if (Date.now() - renewedAt < RENEW_EVERY_MS) return;
  renewedAt = Date.now();
  fetch("/account/active", { credentials: "same-origin", cache: "no-store" }).catch(() => {});
});

socket.on("connect", () => {
  signedOut = false;
  ui.signedOut.hidden = true;
  ui.connection.textContent = T.connected;
  ui.connection.className = "conn conn--online";
  requestList();
  requestOpen();
  for (const box of outboxes.values()) box.restart();
});

socket.on("disconnect", (reason) => {
  ui.connection.textContent = T.offline;
  ui.connection.className = "conn conn--offline";
  hideTyping();
  typingOn = false;
  if (reason === "io server disconnect") socket.connect();
});

socket.on("connect_error", () => {
  // A refused connection is not retried by the client: the session is gone.
  if (!socket.active) showSignedOut();
  else if (!signedOut) {
    ui.connection.textContent = T.offline;
    ui.connection.className = "conn conn--offline";
  }
});

socket.on("conversation", upsert);

// A visitor wrote in a chat this counsellor has: only its counters change.
socket.on("activity", (update) => {
  const row = rows.get(update.conversation_id);
  if (!row) return;
  const changed = {
    ...row,
    last_seq: Math.max(row.last_seq, update.last_seq),
    last_message_at: update.last_message_at || row.last_message_at,
    unread: update.unread,
  };
  if (update.visitor_present !== null && update.visitor_present !== undefined) {
    changed.visitor_present = update.visitor_present;
  }
  upsert(changed);
});

socket.on("new_conversation", (info) => {
  if (filters.service && filters.service !== info.service) return;
  // The conversation's row arrives just before this: a call waiting to be accepted rings.
  if (ringing(rows.get(info.id))) ring();
  else chime();
});

socket.on("assigned", ({ conversation_id: id, by }) => {
  chime();
  notice(format(T.assigned, { by }), { label: T.open, run: () => openConversation(id) });
});

socket.on("message", addMessage);

socket.on("typing", ({ conversation_id: id, typing }) => {
  if (!current || current.id !== id) return;
  if (typing) showTyping();
  else hideTyping();
});

socket.on("read", ({ conversation_id: id, seq }) => {
  if (!current || current.id !== id || seq <= current.visitorReadSeq) return;
  current.visitorReadSeq = seq;
  updateReadMarks();
});
