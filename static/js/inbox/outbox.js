// Each conversation's unsent messages, sent again until the server has them.
import { Outbox, setSendStatus } from "../common.js";
import { showSignedOut, socket } from "./connection.js";
import { addMessage } from "./messages.js";
import { notice } from "./notices.js";
import { T, state } from "./state.js";

const { outboxes } = state;

export function outboxFor(id) {
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
  const { current } = state;
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

/** Try every conversation's unsent messages again, e.g. once reconnected. */
export function restartOutboxes() {
  for (const box of outboxes.values()) box.restart();
}

window.addEventListener("beforeunload", (event) => {
  if ([...outboxes.values()].some((box) => box.items.length)) event.preventDefault();
});
