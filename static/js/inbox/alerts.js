// Telling the counsellor that something arrived where they are not looking: a polite live
// region for screen readers, the opt-in chime, and a browser notification while the tab is
// hidden. What is said names the visitor and the service, never what anyone wrote.
import { element, format, storage } from "../common.js";
import { openConversation } from "./conversation.js";
import { chime } from "./sound.js";
import { T, mine, state, ui } from "./state.js";

const KEY_ASKED = "helpline.inbox.notifications-asked";
const SAID_FOR_MS = 15000;

/** Say `text` once through the live region. */
export function announce(text) {
  const line = element("p", "", text);
  ui.announcer.append(line);
  setTimeout(() => line.remove(), SAID_FOR_MS);
  while (ui.announcer.childElementCount > 3) ui.announcer.firstElementChild.remove();
}

function lookingAt(id) {
  return Boolean(state.current && state.current.id === id && document.visibilityState === "visible");
}

function notify(text, id) {
  if (document.visibilityState === "visible" || !("Notification" in window)) return;
  if (Notification.permission !== "granted") return;
  try {
    const shown = new Notification(T.title, { body: text, tag: `conversation-${id}` });
    shown.addEventListener("click", () => {
      window.focus();
      openConversation(id);
      shown.close();
    });
  } catch {
    /* some browsers allow notifications from a service worker only */
  }
}

/** After a row changed: the visitor of a conversation this person has wrote something new. */
export function noticeMessages(before, row) {
  if (!before || !mine(row) || !((row.unread || 0) > (before.unread || 0))) return;
  if (lookingAt(row.id)) return;
  const visitor = row.visitor ? row.visitor.name : T.visitor;
  const text = format(T.new_message, { visitor, service: row.service_name });
  announce(text);
  chime([880, 1175]);
  notify(text, row.id);
}

/** A conversation opened in a service this person works. */
export function noticeNewConversation(row) {
  const channel = (row && row.channel) || "chat";
  const template = T[`new_${channel}`] || T.new_chat;
  const text = format(template, { service: row ? row.service_name : "" });
  announce(text);
  if (row) notify(text, row.id);
}

// Permission is asked once, when the counsellor switches the sound on (a gesture of theirs).
ui.sound.addEventListener("change", () => {
  if (!ui.sound.checked || !("Notification" in window)) return;
  if (Notification.permission !== "default" || storage.get(KEY_ASKED)) return;
  storage.set(KEY_ASKED, "yes");
  Notification.requestPermission().catch(() => {});
});
