// Writing in the open conversation: a reply or a private note, and telling the visitor so.
import { uuid, wireComposer } from "../common.js";
import { socket } from "./connection.js";
import { dropDraft, keepDraft } from "./drafts.js";
import { showPending } from "./messages.js";
import { outboxFor } from "./outbox.js";
import { T, mine, state, ui } from "./state.js";

function send() {
  if (!state.current) return;
  const text = ui.body.value.trim();
  if (!text) return;
  const id = state.current.id;
  const note = ui.note.checked;
  ui.body.value = "";
  dropDraft(id);
  stopTyping();
  sendMessage(id, text, note);
}

/** Send `text` in conversation `id` the usual way: shown pending, then acked once stored. */
export function sendMessage(id, text, note = false) {
  const item = { conversation_id: id, client_msg_id: uuid(), body: text, note, created_at: new Date().toISOString() };
  if (state.current && state.current.id === id) showPending(item);
  outboxFor(id).add(item);
}

wireComposer(ui.composer, ui.body, send);

let typingOn = false;
let typingSentAt = 0;
let typingIdle = null;

function noteTyping() {
  // Never tell the visitor about a private note being written.
  if (!state.current || ui.note.checked || !mine(state.current.summary) || !socket.connected) return;
  if (!ui.body.value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (!typingOn || now - typingSentAt >= 2000) {
    socket.emit("typing", { conversation_id: state.current.id, typing: true });
    typingOn = true;
    typingSentAt = now;
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 3000);
}

export function stopTyping() {
  clearTimeout(typingIdle);
  if (typingOn && state.current && socket.connected) {
    socket.emit("typing", { conversation_id: state.current.id, typing: false });
  }
  typingOn = false;
}

ui.body.addEventListener("input", () => {
  if (state.current) keepDraft(state.current.id, ui.body.value);
  noteTyping();
});
ui.body.addEventListener("blur", stopTyping);

/** After a dropped connection the next keystroke says "typing" afresh. */
export function forgetTyping() {
  typingOn = false;
}

export function renderComposerMode() {
  const note = ui.note.checked;
  ui.composer.classList.toggle("composer--note", note);
  ui.bodyLabel.textContent = note ? T.note_label_short : T.reply_label;
  ui.send.textContent = note ? T.add_note : T.send;
}

ui.note.addEventListener("change", () => {
  if (!ui.note.checked) state.current.noteForced = false;
  stopTyping();
  renderComposerMode();
});
