// Opening a conversation from a link, such as a search result: /inbox?open=<id> or /inbox#c=<id>.
import { openConversation } from "./conversation.js";

/** The conversation a link names, or null. */
export function linkedConversation(location = window.location) {
  const named = new URLSearchParams(location.search).get("open") || new URLSearchParams(location.hash.slice(1)).get("c");
  const id = Number(named);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

function openLinked() {
  const id = linkedConversation();
  if (!id) return;
  // Followed once: a reload later, after other conversations were opened, does not go back.
  history.replaceState(null, "", window.location.pathname);
  openConversation(id);
}

/** Open the linked conversation now, and again whenever a #c= link is followed. */
export function followLinks() {
  openLinked();
  window.addEventListener("hashchange", openLinked);
}
