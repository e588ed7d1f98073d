// The opened conversation: opening it, its header and the buttons that act on it.
import { wireBlock } from "../block.js";
import { element, format } from "../common.js";
import { Transcript } from "../transcript.js";
import { renderCanned } from "./canned.js";
import { renderComposerMode, stopTyping } from "./composer.js";
import { ask, socket } from "./connection.js";
import { draftOf } from "./drafts.js";
import { hideHandover } from "./handover.js";
import { loadHistory } from "./history.js";
import { badge, matches, renderList, upsert, visitorLabel } from "./list.js";
import { addMessage, hideTyping, markRead, showPending, updateReadMarks } from "./messages.js";
import { renderMonitor } from "./monitor.js";
import { notice } from "./notices.js";
import { renderPhone, ringing, setVoicemailSource } from "./phone.js";
import { renderReferrals, resetReferralForm } from "./referrals.js";
import { T, mine, page, state, ui } from "./state.js";
import { timer } from "./time.js";
import { loadColleagues } from "./transfer.js";
import { showConversation } from "./views.js";
import { focusWrapUp, keepWrapDraft, renderWrapUp } from "./wrap-up.js";

const { outboxes, rows } = state;
const blocking = wireBlock({ act, notice, opened: () => state.current.summary, strings: T });
// What the button that moves a conversation to wrap-up says: a form has no chat to end.
const END_LABELS = { chat: "end_chat", phone: "end_conversation", form: "finish_form" };

export function renderHead() {
  const { current } = state;
  const s = current && current.summary;
  if (!s) return;
  ui.title.replaceChildren(visitorLabel(s, "conv__visitor"));
  const meta = [element("span", "conv__where", `${s.service_name} · ${T[`channel_${s.channel}`] || s.channel}`)];
  meta.push(badge(T[`state_${s.state}`] || s.state, s.state));
  meta.push(element("span", "", s.assignee ? format(T.with, { name: s.assignee.name }) : T.unassigned));
  if (s.state === "active" && s.visitor_waiting_since) meta.push(waitingBadge(s.visitor_waiting_since));
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
  blocking.render(s, mine(s) || page.blocksAny);
  ui.end.textContent = T[END_LABELS[s.channel]];
  const transferable = s.state === "active";
  if (transferable && ui.transferBox.hidden) loadColleagues();
  ui.transferBox.hidden = !transferable;
  ui.bookFollowup.hidden = !page.canBook || s.state === "closed";
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
  renderMonitor(s);
  renderCanned(s);
}

const T_HINT = ui.hint.textContent;

/** "waiting 1:23" in the header, kept current by the list's one-second clock. */
function waitingBadge(iso) {
  const el = badge("", "waiting");
  el.append(T.visitor_waits, " ", timer(iso));
  return el;
}

/** Open a conversation; `watch`: as a supervisor silently watching it (see monitor.js). */
export function openConversation(id, { watch = false } = {}) {
  showConversation();
  if (state.current && state.current.id === id && state.current.watching === watch) return;
  if (state.current) {
    keepWrapDraft();
    stopTyping();
    const left = state.current.watching ? "unwatch" : "close_view";
    if (socket.connected) socket.emit(left, { conversation_id: state.current.id });
  }
  state.current = {
    id,
    watching: watch,
    summary: rows.get(id) || null,
    transcript: new Transcript(ui.messages),
    catchingUp: false, // an `open` is on its way
    pendingEls: new Map(),
    highestVisitorSeq: 0,
    visitorReadSeq: 0,
    lastReadSent: 0,
    noteForced: false,
    handoverSeq: 0, // the hand-over note shown, if any
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
  hideHandover();
  setVoicemailSource("");
  ui.placeholder.hidden = true;
  ui.conv.hidden = false;
  ui.messages.replaceChildren();
  ui.history.replaceChildren();
  ui.historyEmpty.hidden = false;
  ui.summary.value = "";
  renderReferrals();
  resetReferralForm();
  ui.body.value = draftOf(id);
  hideTyping();
  renderHead();
  const box = outboxes.get(id);
  if (box) for (const item of box.items) showPending(item);
  renderList();
  requestOpen();
}

export function requestOpen() {
  const c = state.current;
  if (!c || !socket.connected) return;
  const payload = { conversation_id: c.id, since_seq: c.transcript.complete };
  const stale = () => c !== state.current;
  c.catchingUp = true;
  const settled = () => {
    c.catchingUp = false;
  };
  ask(c.watching ? "watch" : "open", payload, stale, (ack) => {
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

export function act(event, payload, after, settled) {
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
  act("claim", { conversation_id: state.current.id }, () => ui.body.focus());
});

ui.end.addEventListener("click", () => {
  const { summary } = state.current;
  const question = summary && summary.channel !== "chat" ? T.confirm_end_phone : T.confirm_end;
  // The button goes away with the chat: focus moves on to the wrap-up form.
  if (window.confirm(question)) act("end", { conversation_id: state.current.id }, focusWrapUp);
});
