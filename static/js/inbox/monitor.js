// Silent monitoring: a supervisor watches a colleague's chat read-only and whispers to them;
// the counsellor sees who watches. The server sends the visitor nothing of either.
import { Outbox, element, format, setSendStatus, uuid, wireComposer } from "../common.js";
import { socket } from "./connection.js";
import { openConversation } from "./conversation.js";
import { renderList } from "./list.js";
import { addMessage, showPending } from "./messages.js";
import { notice } from "./notices.js";
import { $, T, me, root, state, ui } from "./state.js";

const canMonitor = root.dataset.canMonitor === "true";
const els = {
  watchers: $("watchers"),
  monitor: $("monitor"),
  stop: $("stop-watching"),
  form: $("whisper-form"),
  body: $("whisper-body"),
  block: $("block"),
};
// Parts of the conversation view a watcher does not get: whatever acts on the conversation.
const ACTIONS = ["claim", "transferBox", "end", "bookFollowup", "exportForm", "composer", "wrapUp", "referralForm"];
// Of those, the ones nothing else shows again after watching.
const RESTORED = ["composer", "referralForm"];

/** Whether `row` is a colleague's active conversation the signed-in supervisor may watch. */
export function watchable(row) {
  return canMonitor && row.state === "active" && Boolean(row.assignee) && row.assignee.id !== me;
}

/** Offer "Watch" beside a list row that can be watched. */
export function offerWatch(li, row) {
  let button = li.querySelector(".row__watch");
  if (!watchable(row)) {
    if (button) button.remove();
    return;
  }
  if (!button) {
    button = element("button", "button button--small row__watch", T.watch);
    button.type = "button";
    button.addEventListener("click", () => openConversation(row.id, { watch: true }));
    li.append(button);
  }
  button.setAttribute("aria-label", format(T.watch_label, { service: row.service_name, name: row.assignee.name }));
}

/** The header's line of who watches, and a watcher's read-only view with the whisper box. */
export function renderMonitor(summary) {
  const c = state.current;
  const others = ((summary && summary.watchers) || []).filter((person) => person.id !== me);
  els.watchers.hidden = others.length === 0;
  const names = others.map((person) => person.name).join(", ");
  els.watchers.textContent = others.length ? format(others.length === 1 ? T.watching_one : T.watching_many, { names }) : "";
  const watching = Boolean(c && c.watching);
  const wasWatching = !els.monitor.hidden;
  els.monitor.hidden = !watching;
  if (!watching) {
    if (wasWatching) for (const name of RESTORED) ui[name].hidden = false;
    return;
  }
  for (const name of ACTIONS) if (ui[name]) ui[name].hidden = true;
  els.block.hidden = true;
}

/** Who watches a conversation changed. */
export function showWatchers({ conversation_id: id, watchers }) {
  const row = state.rows.get(id);
  if (row) row.watchers = watchers;
  const c = state.current;
  if (c && c.id === id && c.summary) {
    c.summary = { ...c.summary, watchers };
    renderMonitor(c.summary);
  }
}

/** A supervisor whispered in one of this counsellor's conversations. */
export function whispered(message) {
  const c = state.current;
  if (c && c.id === message.conversation_id) {
    addMessage(message);
    return;
  }
  const text = format(T.whispered, { name: message.author || "", body: message.body });
  notice(text, { label: T.open, run: () => openConversation(message.conversation_id) });
}

function stopWatching() {
  const c = state.current;
  if (!c || !c.watching) return;
  if (socket.connected) socket.emit("unwatch", { conversation_id: c.id });
  state.current = null;
  ui.conv.hidden = true;
  ui.placeholder.hidden = false;
  renderList();
}

// Whispers wait in their own outbox until the server has stored them (a retry is stored once).
const whispers = new Outbox({
  socket,
  event: "whisper",
  payload: ({ conversation_id, client_msg_id, body }) => ({ conversation_id, client_msg_id, body }),
  decide: (item, ack) => {
    if (ack.ok) {
      addMessage(ack.message);
      return "done";
    }
    if (ack.error && ack.error.code === "server_error") return 3000;
    const pending = state.current && state.current.pendingEls.get(item.client_msg_id);
    if (pending) setSendStatus(pending, T.failed, "failed");
    notice(ack.error ? ack.error.message : T.error_timeout);
    return "drop";
  },
});

function sendWhisper() {
  const c = state.current;
  const body = els.body.value.trim();
  if (!c || !c.watching || !body) return;
  const item = { conversation_id: c.id, client_msg_id: uuid(), body, created_at: new Date().toISOString() };
  els.body.value = "";
  showPending({ ...item, note: true, event: "whisper" });
  whispers.add(item);
}

wireComposer(els.form, els.body, sendWhisper);
els.stop.addEventListener("click", stopWatching);
socket.on("connect", () => whispers.restart());
