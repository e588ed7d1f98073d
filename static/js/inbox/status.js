// The signed-in person's status in the inbox header: available, away or on break. Who is away
// or on a break is offered no transfers and no calls, and hears no chime for new work.
import { format } from "../common.js";
import { refused, socket } from "./connection.js";
import { notice } from "./notices.js";
import { T, state, ui } from "./state.js";

function show(status) {
  state.status = status;
  if (!ui.myStatus) return;
  if (status) ui.myStatus.value = status;
  ui.myStatus.disabled = !status;
}

/** Whether new work should call for attention: not while away or on a break. */
export function takingWork() {
  return state.status === null || state.status === "available";
}

export function loadStatus() {
  if (!ui.myStatus) return;
  socket.timeout(8000).emit("my_status", {}, (err, ack) => {
    if (!err && ack.ok) show(ack.status);
  });
}

socket.on("status", ({ status }) => show(status));

if (ui.myStatus) {
  ui.myStatus.addEventListener("change", () => {
    const wanted = ui.myStatus.value;
    ui.myStatus.disabled = true;
    socket.timeout(8000).emit("set_status", { status: wanted }, (err, ack) => {
      ui.myStatus.disabled = false;
      if (err || !ack.ok) {
        refused(err ? null : ack);
        show(state.status);
        return;
      }
      show(ack.status);
      const name = ui.myStatus.selectedOptions[0].textContent;
      notice(format(T.status_saved, { status: name }));
    });
  });
}
