// On a small screen the list and the open conversation are separate views; wide screens show both.

const main = document.getElementById("main");
const back = document.getElementById("back-to-list");

/** Show the open conversation instead of the list (small screens only change). */
export function showConversation() {
  main.classList.add("inbox--reading");
}

/** Back to the list, with focus on the row of the conversation just left. */
export function showList() {
  main.classList.remove("inbox--reading");
  const row = document.querySelector("#list [aria-current='true']");
  (row || document.getElementById("list")).focus();
}

back.addEventListener("click", showList);
