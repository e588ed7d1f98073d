// The phone line in the inbox: ringing calls, the call's stage, calling back, voicemail, and
// whether this counsellor takes calls at all.
import { format } from "../common.js";
import { refused, socket } from "./connection.js";
import { act, renderHead } from "./conversation.js";
import { badge } from "./list.js";
import { notice } from "./notices.js";
import { ring } from "./sound.js";
import { T, mine, page, root, state, ui } from "./state.js";
import { stopwatch, timer } from "./time.js";

/** A call waiting in the queue for someone to accept it. */
export function ringing(row) {
  return Boolean(row && row.phone && row.phone.stage === "ringing" && row.state === "queued");
}

export function callerText(phone) {
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

export function stageBadge(row) {
  if (!ringing(row)) return badge(stageText(row), `stage-${row.phone.stage}`);
  const el = badge(`${T.stage_ringing} `, "ringing");
  el.append(timer(row.waiting_since || row.created_at));
  return el;
}

export function noticeCall(before, row) {
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

export function renderPhone(s) {
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
  const calling = phone.callback_under_way || state.current.callingBack;
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
  ui.deleteVoicemail.disabled = Boolean(state.current.deletingVoicemail);
  setVoicemailSource(playable ? `/phone/voicemail/${s.id}` : "");
}

/** Point the player at a voicemail; only a change of voicemail interrupts what is playing. */
export function setVoicemailSource(url) {
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

/** Run a phone action on the open conversation, with `flag` set on it until the answer. */
function phoneAction(event, flag, after) {
  const c = state.current;
  c[flag] = true;
  renderHead();
  act(event, { conversation_id: c.id }, after, () => {
    c[flag] = false;
    if (c === state.current) renderHead();
  });
}

ui.callBack.addEventListener("click", () => {
  phoneAction("call_back", "callingBack", () => notice(T.call_back_started));
});

ui.deleteVoicemail.addEventListener("click", () => {
  if (window.confirm(T.confirm_delete_voicemail)) phoneAction("delete_voicemail", "deletingVoicemail");
});

ui.takeCalls.checked = root.dataset.takesCalls === "true";
ui.takeCalls.disabled = !page.hasPhone;
ui.takeCallsHint.hidden = page.hasPhone;
if (!page.hasPhone) ui.takeCalls.setAttribute("aria-describedby", "take-calls-hint");

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
