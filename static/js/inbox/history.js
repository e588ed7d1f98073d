// The same person's earlier conversations, shown beside the open one.
import { element } from "../common.js";
import { refused, socket } from "./connection.js";
import { openConversation } from "./conversation.js";
import { T, lang, state, ui } from "./state.js";

export function loadHistory(c) {
  c.historyAsked = true;
  socket.timeout(8000).emit("history", { conversation_id: c.id }, (err, ack) => {
    if (c !== state.current || err) return;
    if (!ack.ok) {
      refused(ack);
      return;
    }
    ui.history.replaceChildren();
    for (const row of ack.conversations) {
      const li = element("li");
      const button = element("button", "history__item");
      button.type = "button";
      const when = new Date(row.created_at);
      button.append(
        element("span", "history__when", when.toLocaleDateString(lang, { day: "numeric", month: "short", year: "numeric" })),
        element("span", "history__what", `${row.service_name} · ${T[`channel_${row.channel}`] || row.channel} · ${T[`state_${row.state}`] || row.state}`),
      );
      if (row.summary) button.append(element("span", "history__summary", row.summary));
      button.addEventListener("click", () => openConversation(row.id));
      li.append(button);
      ui.history.append(li);
    }
    ui.historyEmpty.hidden = ack.conversations.length > 0;
  });
}
