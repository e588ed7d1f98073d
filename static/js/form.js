// Small improvements of the contact form and reply pages; both work without this script too.
import { element, renderBody } from "./common.js";

const lang = document.documentElement.lang;

// A date of a report cannot lie in the future: let the date picker know today's date.
for (const input of document.querySelectorAll('input[type="date"][data-not-after="today"]')) {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  input.max = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

// After a failed send, bring the list of what to correct into view (it is also role="alert").
const summary = document.getElementById("error-summary");
if (summary) summary.focus();

// Times of the conversation in the reader's own time zone.
for (const time of document.querySelectorAll("time.msg__time[datetime]")) {
  const date = new Date(time.dateTime);
  if (Number.isNaN(date.getTime())) continue;
  time.textContent = date.toLocaleString(lang, {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
}

// Mark links in messages the way the chat does (still plain text, never clickable).
const warningText = document.getElementById("messages")?.dataset.linkWarning;
for (const body of document.querySelectorAll(".messages--thread .msg__body")) {
  const links = renderBody(body, body.textContent);
  const message = body.parentElement;
  if (links && warningText && !message.querySelector(".msg__warning")) {
    message.append(element("p", "msg__warning", warningText));
  }
}
