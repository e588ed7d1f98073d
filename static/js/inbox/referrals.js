// Referrals: where the person was sent on to, and when, recorded with the conversation.
import { element, format } from "../common.js";
import { ask, showSignedOut, socket } from "./connection.js";
import { $, T, state, ui } from "./state.js";
import { messagesOf, showFieldError } from "./wrap-up.js";

/** Today as YYYY-MM-DD in the counsellor's own time zone. */
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function localDate(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

export function renderReferrals() {
  const c = state.current;
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
    ask("remove_referral", payload, () => c !== state.current, () => {
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
export function resetReferralForm() {
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
  const c = state.current;
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
    if (c !== state.current) return;
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
