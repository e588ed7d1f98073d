// Quick exit, by the button or the Esc key: hide the page at once, forget what the chat keeps
// in this browser, and go to a neutral site in place of this page, so Back does not return.
import { forgetEverything } from "./common.js";

const button = document.getElementById("quick-exit");

function leave(event) {
  event.preventDefault();
  const destination = button.href;
  document.body.replaceChildren();
  document.title = "";
  forgetEverything();
  window.location.replace(destination);
}

if (button) {
  button.addEventListener("click", leave);
  document.addEventListener("keydown", (event) => {
    // keyCode 229: a key that an input method (IME) is still composing with.
    if (event.key === "Escape" && !event.isComposing && event.keyCode !== 229) leave(event);
  });
}
