// Passing the open conversation to a colleague, or back to the queue.
import { format } from "../common.js";
import { socket } from "./connection.js";
import { act } from "./conversation.js";
import { T, state, ui } from "./state.js";

export function loadColleagues() {
  if (!socket.connected) return;
  socket.timeout(8000).emit("colleagues", {}, (err, ack) => {
    if (err || !ack.ok) return;
    const chosen = ui.transferTo.value;
    const placeholder = new Option(T.choose, "", true, true);
    placeholder.disabled = true;
    const options = [placeholder, new Option(T.back_to_queue, "queue")];
    const { current } = state;
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
  const payload = { conversation_id: state.current.id, to: value === "queue" ? null : Number(value) };
  act("transfer", payload, () => loadColleagues());
});
