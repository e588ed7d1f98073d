// Unsent replies, per conversation: they survive switching conversations and a reload of this
// tab (sessionStorage), and go on send and on sign-out. Keyed by the signed-in person, so that
// nobody else who signs in in this tab ever sees them.
import { me } from "./state.js";

const PREFIX = "helpline.inbox.draft.";
const mineKey = (id) => `${PREFIX}${me}.${id}`;
const memory = new Map(); // where sessionStorage is refused (private modes)

function keys() {
  try {
    return Object.keys(sessionStorage).filter((key) => key.startsWith(PREFIX));
  } catch {
    return [];
  }
}

/** The draft of conversation `id`, or "". */
export function draftOf(id) {
  try {
    return sessionStorage.getItem(mineKey(id)) || "";
  } catch {
    return memory.get(id) || "";
  }
}

/** Keep `text` as the draft of conversation `id` (an empty text keeps nothing). */
export function keepDraft(id, text) {
  if (!text.trim()) {
    dropDraft(id);
    return;
  }
  try {
    sessionStorage.setItem(mineKey(id), text);
  } catch {
    memory.set(id, text);
  }
}

export function dropDraft(id) {
  memory.delete(id);
  try {
    sessionStorage.removeItem(mineKey(id));
  } catch {
    /* nothing stored */
  }
}

/** Forget every draft in this tab, whoever wrote it. */
export function dropAllDrafts() {
  memory.clear();
  for (const key of keys()) sessionStorage.removeItem(key);
}

// Someone else's drafts, left in this tab by a session that ended without signing out.
for (const key of keys()) if (!key.startsWith(`${PREFIX}${me}.`)) sessionStorage.removeItem(key);

document.addEventListener("submit", (event) => {
  const action = event.target.getAttribute("action") || "";
  if (action.endsWith("/logout")) dropAllDrafts();
});
