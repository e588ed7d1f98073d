// "Block this visitor" in the inbox: a dialog for how long and why, sent as `block_visitor`.
import { format } from "./common.js";

const BLOCKABLE = new Set(["chat", "phone"]);

/**
 * Wire the block button and dialog. `act(event, payload, after)` sends an event (refusals are
 * shown by the inbox); `opened()` is the open conversation's summary.
 */
export function wireBlock({ act, notice, opened, strings }) {
  const $ = (id) => document.getElementById(id);
  const button = $("block");
  const dialog = $("block-dialog");
  const form = $("block-form");
  const reason = $("block-reason");
  const error = $("block-error");

  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
    reason.setAttribute("aria-invalid", text ? "true" : "false");
  };

  button.addEventListener("click", () => {
    reason.value = "";
    showError("");
    dialog.showModal();
    reason.focus();
  });
  $("block-cancel").addEventListener("click", () => dialog.close());

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = reason.value.trim();
    if (text.length < 3 || text.length > 300) {
      showError(strings.block_reason_needed);
      reason.focus();
      return;
    }
    const summary = opened();
    const hours = Number(new FormData(form).get("hours"));
    act("block_visitor", { conversation_id: summary.id, hours, reason: text }, (ack) => {
      dialog.close();
      const until = new Date(ack.block.until).toLocaleString();
      notice(format(strings.blocked, { until }));
    });
  });

  return {
    /** Offer the button where the server would allow it: the visitor can be recognised, and
     * the staff member has the conversation or leads. */
    render(summary, allowed) {
      button.hidden = !(summary && allowed && BLOCKABLE.has(summary.channel));
    },
  };
}
