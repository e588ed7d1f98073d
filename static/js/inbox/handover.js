// A hand-over note, shown above the conversation to the colleague it was passed to, until
// they dismiss it.
import { format } from "../common.js";
import { T, mine, root, state, ui } from "./state.js";

const KEY = "handover-seen";

function seen() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(KEY) || "[]"));
  } catch {
    return new Set();
  }
}

function markSeen(id) {
  const ids = seen();
  ids.add(id);
  sessionStorage.setItem(KEY, JSON.stringify([...ids].slice(-200)));
}

/** A message of the open conversation: a hand-over note to the signed-in person shows. */
export function noteHandover(message) {
  const c = state.current;
  if (!c || message.kind !== "note" || message.event !== "handover") return;
  const key = `${c.id}:${message.seq}`;
  if (!mine(c.summary) || message.author === root.dataset.meName || seen().has(key)) return;
  if (c.handoverSeq && c.handoverSeq > message.seq) return;
  c.handoverSeq = message.seq;
  ui.handoverHeading.textContent = format(T.handover_from, { name: message.author || "" });
  ui.handoverBody.textContent = message.body;
  ui.handover.dataset.key = key;
  ui.handover.hidden = false;
}

export function hideHandover() {
  ui.handover.hidden = true;
}

ui.handoverDismiss.addEventListener("click", () => {
  markSeen(ui.handover.dataset.key);
  hideHandover();
  ui.body.focus();
});
