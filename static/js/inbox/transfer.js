// Passing the open conversation to a colleague who takes its chats, or back to the queue,
// with an optional hand-over note.
import { format } from "../common.js";
import { socket } from "./connection.js";
import { act } from "./conversation.js";
import { T, state, ui } from "./state.js";

// Who can be chosen: the server refuses the others too (away, on break, at their limit).
const CHOOSABLE = new Set(["available"]);

function colleagueOption(colleague) {
  const template = T[`colleague_${colleague.status}`] || T.colleague;
  const label = format(template, { name: colleague.name, active: colleague.active_chats, max: colleague.max_chats });
  const option = new Option(label, String(colleague.id));
  option.disabled = !CHOOSABLE.has(colleague.status);
  return option;
}

export function loadColleagues() {
  const { current } = state;
  if (!socket.connected || !current) return;
  socket.timeout(8000).emit("colleagues", { conversation_id: current.id }, (err, ack) => {
    if (err || !ack.ok || current !== state.current) return;
    const chosen = ui.transferTo.value;
    const placeholder = new Option(T.choose, "", true, true);
    placeholder.disabled = true;
    const options = [placeholder, new Option(T.back_to_queue, "queue")];
    const assignee = current.summary && current.summary.assignee;
    for (const colleague of ack.colleagues) {
      if (assignee && colleague.id === assignee.id) continue;
      options.push(colleagueOption(colleague));
    }
    ui.transferTo.replaceChildren(...options);
    if ([...ui.transferTo.options].some((o) => o.value === chosen && !o.disabled)) ui.transferTo.value = chosen;
  });
}

ui.transferTo.addEventListener("focus", loadColleagues);
ui.transfer.addEventListener("click", () => {
  const value = ui.transferTo.value;
  if (!value) return;
  const note = ui.handoverNote.value.trim();
  const payload = { conversation_id: state.current.id, to: value === "queue" ? null : Number(value) };
  if (note) payload.note = note;
  act("transfer", payload, () => {
    ui.handoverNote.value = "";
    loadColleagues();
  });
});
