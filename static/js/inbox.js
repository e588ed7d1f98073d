// The staff inbox: a live list of conversations and the one that is open. This module wires
// the server's events to the modules under inbox/, which do the work.
import { format } from "./common.js";
import { noticeNewConversation } from "./inbox/alerts.js";
import "./inbox/booking.js";
import { forgetTyping } from "./inbox/composer.js";
import { showOffline, showOnline, showSignedOut, socket } from "./inbox/connection.js";
import { openConversation, requestOpen } from "./inbox/conversation.js";
import { followLinks } from "./inbox/deep-link.js";
import { requestList, upsert } from "./inbox/list.js";
import { addMessage, hideTyping, showTyping, updateReadMarks } from "./inbox/messages.js";
import { showWatchers, whispered } from "./inbox/monitor.js";
import { notice } from "./inbox/notices.js";
import { restartOutboxes } from "./inbox/outbox.js";
import { ringing } from "./inbox/phone.js";
import { chime, ring } from "./inbox/sound.js";
import "./inbox/shortcuts.js";
import { loadStatus, takingWork } from "./inbox/status.js";
import { T, state } from "./inbox/state.js";

const { rows } = state;

socket.on("connect", () => {
  showOnline();
  requestList();
  requestOpen();
  restartOutboxes();
  loadStatus();
});

socket.on("disconnect", (reason) => {
  showOffline();
  hideTyping();
  forgetTyping();
  if (reason === "io server disconnect") socket.connect();
});

socket.on("connect_error", () => {
  // A refused connection is not retried by the client: the session is gone.
  if (!socket.active) showSignedOut();
  else if (!state.signedOut) showOffline();
});

socket.on("conversation", upsert);

// A message in a chat this counsellor has: only what it changed on the row comes.
const ACTIVITY_FIELDS = ["unread", "visitor_waiting_since", "preview"];
socket.on("activity", (update) => {
  const row = rows.get(update.conversation_id);
  if (!row) return;
  const changed = {
    ...row,
    last_seq: Math.max(row.last_seq, update.last_seq),
    last_message_at: update.last_message_at || row.last_message_at,
  };
  for (const field of ACTIVITY_FIELDS) if (field in update) changed[field] = update[field];
  if (update.visitor_present !== null && update.visitor_present !== undefined) {
    changed.visitor_present = update.visitor_present;
  }
  upsert(changed);
});

socket.on("new_conversation", (info) => {
  if (state.filters.service && state.filters.service !== info.service) return;
  // Away or on a break: new chats and calls wait quietly in the list.
  if (!takingWork()) return;
  // The conversation's row arrives just before this: a call waiting to be accepted rings.
  const row = rows.get(info.id);
  if (ringing(row)) {
    ring();
    return;
  }
  chime();
  noticeNewConversation(row);
});

socket.on("assigned", ({ conversation_id: id, by }) => {
  chime();
  notice(format(T.assigned, { by }), { label: T.open, run: () => openConversation(id) });
});

socket.on("message", addMessage);

socket.on("typing", ({ conversation_id: id, typing }) => {
  if (!state.current || state.current.id !== id) return;
  if (typing) showTyping();
  else hideTyping();
});

socket.on("read", ({ conversation_id: id, seq }) => {
  const c = state.current;
  if (!c || c.id !== id || seq <= c.visitorReadSeq) return;
  c.visitorReadSeq = seq;
  updateReadMarks();
});

socket.on("watchers", showWatchers);
socket.on("whisper", whispered);
followLinks();
