// Keyboard shortcuts of the inbox. A plain key works where focus is not in a text field; with
// Alt it works everywhere (also while typing a reply). `?` lists them in a dialog.
import { announce } from "./alerts.js";
import { act, openConversation } from "./conversation.js";
import { T, state, ui } from "./state.js";

const TYPES_WITHOUT_TEXT = new Set(["button", "checkbox", "radio", "submit", "reset", "range", "color", "file"]);

function inTextField(el) {
  if (!el || el === document.body) return false;
  if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && !TYPES_WITHOUT_TEXT.has(el.type);
}

/** The rows in the order the list shows them. */
function listed() {
  return [...ui.list.querySelectorAll(".row")];
}

function step(by, stayInComposer) {
  const buttons = listed();
  if (!buttons.length) return;
  const at = state.current ? buttons.findIndex((b) => Number(b.dataset.id) === state.current.id) : -1;
  const next = at === -1 ? (by > 0 ? 0 : buttons.length - 1) : at + by;
  if (next < 0 || next >= buttons.length) return;
  const target = buttons[next];
  openConversation(Number(target.dataset.id));
  if (stayInComposer) ui.body.focus();
  else target.focus();
}

function claimNext() {
  // A ringing call is accepted with its own button: a stray key never puts a call through.
  const waiting = listed().find((b) => {
    const row = state.rows.get(Number(b.dataset.id));
    return row && row.state === "queued" && row.channel !== "phone";
  });
  if (!waiting) {
    announce(T.nobody_waiting);
    return;
  }
  const id = Number(waiting.dataset.id);
  // Opened once claimed, so that what `open` answers already shows it claimed.
  act("claim", { conversation_id: id }, () => {
    openConversation(id);
    ui.body.focus();
  });
}

function focusComposer() {
  if (state.current && !ui.conv.hidden) ui.body.focus();
}

function endChat() {
  if (state.current && !ui.end.hidden) ui.end.click();
}

export function showShortcuts() {
  if (!ui.shortcuts.open) ui.shortcuts.showModal();
}

// By physical key with Alt (Alt changes the character on some keyboards), else by character.
const BY_CODE = { KeyJ: "j", ArrowDown: "j", KeyK: "k", ArrowUp: "k", KeyN: "n", KeyR: "r", KeyE: "e" };

const ACTIONS = {
  j: (typing) => step(1, typing),
  k: (typing) => step(-1, typing),
  n: () => claimNext(),
  r: () => focusComposer(),
  e: () => endChat(),
};

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.isComposing) return;
  if (ui.shortcuts.open || document.querySelector("dialog[open]")) return;
  const typing = inTextField(event.target);
  if (event.key === "?" && !typing && !event.altKey) {
    event.preventDefault();
    showShortcuts();
    return;
  }
  if (event.shiftKey || (typing && !event.altKey)) return;
  const name = event.altKey ? BY_CODE[event.code] : event.key.toLowerCase();
  const run = ACTIONS[name];
  if (!run) return;
  event.preventDefault();
  run(typing);
});

ui.shortcutsOpen.addEventListener("click", showShortcuts);
