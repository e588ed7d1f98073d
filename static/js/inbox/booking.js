// Booking a follow-up session without leaving the inbox: the booking form in a <dialog>, sent
// with fetch to the booking page's own address (?panel=1), and the words for the client sent
// into the chat as the counsellor's message.
import { element } from "../common.js";
import { sendMessage } from "./composer.js";
import { notice } from "./notices.js";
import { T, state, ui } from "./state.js";

const dialog = document.getElementById("booking-panel");
const body = document.getElementById("booking-panel-body");
let conversationId = null;

function show(html) {
  const parsed = new DOMParser().parseFromString(html, "text/html");
  body.replaceChildren(...parsed.body.childNodes);
  showNumber();
  const heading = body.querySelector("h2");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

async function load(url, options) {
  try {
    const answer = await fetch(url, { credentials: "same-origin", ...options });
    // 422: the form again with what to correct; anything else but 200 is a refusal.
    if (answer.ok || answer.status === 422) {
      show(await answer.text());
      return;
    }
    body.replaceChildren(element("p", "form-errors", T.booking_failed));
  } catch {
    notice(T.booking_failed);
  }
}

// The number to call matters only for a phone session (as static/js/followup.js on the page).
function showNumber() {
  const field = body.querySelector("#number-field");
  const chosen = body.querySelector('input[name="method"]:checked');
  if (field) field.hidden = !chosen || chosen.value !== "phone";
}

function open() {
  if (!state.current) return;
  conversationId = state.current.id;
  body.replaceChildren(element("p", "muted", T.booking_loading));
  dialog.showModal();
  load(`/followup/book/${conversationId}?panel=1`);
}

body.addEventListener("change", (event) => {
  if (event.target.name === "method") showNumber();
});

body.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  form.querySelector('button[type="submit"]').disabled = true;
  load(form.action, { method: "POST", body: new FormData(form) });
});

body.addEventListener("click", (event) => {
  if (event.target.id !== "send-booking") return;
  const words = body.querySelector("#client-message").textContent.replace(/\s+/g, " ").trim();
  sendMessage(conversationId, words);
  event.target.disabled = true;
  body.querySelector("#send-booking-status").textContent = T.booking_sent;
});

ui.bookFollowup.addEventListener("click", open);
document.getElementById("booking-panel-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => {
  body.replaceChildren();
  ui.bookFollowup.focus();
});
