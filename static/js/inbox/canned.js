// Canned responses in the composer: "/" at the start of a line, or the button beside it,
// opens a searchable list of the conversation's service's responses (a listbox driven from
// the search field with aria-activedescendant). Enter inserts the text, filled in by the
// server, at the caret: the counsellor edits and sends it as any other reply.
import { element, format, readJson } from "../common.js";
import { socket } from "./connection.js";
import { notice } from "./notices.js";
import { $, mine, root, state, ui } from "./state.js";

const S = readJson("canned-i18n");
const box = $("canned");
const search = $("canned-search");
const list = $("canned-list");
const status = $("canned-status");
const opener = $("canned-open");
const languageButtons = [...box.querySelectorAll("[data-language]")];
const usesAny = root.dataset.cannedAny === "true";

const loaded = new Map(); // conversation id -> {language, responses} as the server sent them
let shown = []; // the responses in the list, in order
let active = -1; // index in `shown` of the highlighted one
let language = "nl";
let openedBySlash = false;
let caret = null; // the composer's selection when the list opened: where the text goes
let openedFor = null; // the conversation whose responses are listed

/** Show the button only where the signed-in person may use canned responses. */
export function renderCanned(summary) {
  opener.hidden = !summary || !(usesAny || mine(summary));
  if (opener.hidden || !summary || summary.id !== openedFor) close(false);
}

function open({ slash }) {
  if (!state.current || opener.hidden) return;
  openedBySlash = slash;
  openedFor = state.current.id;
  caret = [ui.body.selectionStart, ui.body.selectionEnd];
  box.hidden = false;
  opener.setAttribute("aria-expanded", "true");
  search.value = "";
  const known = loaded.get(state.current.id);
  if (known) show(known);
  else status.textContent = S.loading;
  search.focus();
  load(state.current.id);
}

function close(refocus = true) {
  if (box.hidden) return;
  box.hidden = true;
  opener.setAttribute("aria-expanded", "false");
  search.removeAttribute("aria-activedescendant");
  if (refocus) ui.body.focus();
}

function load(id) {
  socket.timeout(8000).emit("canned_responses", { conversation_id: id }, (err, ack) => {
    if (!state.current || state.current.id !== id || box.hidden) return;
    if (err || !ack.ok) {
      status.textContent = "";
      close();
      notice((ack && ack.error && ack.error.message) || S.failed);
      return;
    }
    const first = !loaded.has(id);
    loaded.set(id, ack);
    show(ack, first);
  });
}

function show(offer, chooseLanguage = true) {
  if (chooseLanguage) setLanguage(offer.language);
  else render();
}

function setLanguage(chosen) {
  language = chosen;
  for (const button of languageButtons) {
    button.setAttribute("aria-pressed", String(button.dataset.language === chosen));
  }
  render();
}

/** Per shortcut, the version in the chosen language, else the other one. */
function versions(responses) {
  const byShortcut = new Map();
  for (const response of responses) {
    const kept = byShortcut.get(response.shortcut);
    if (!kept || (kept.language !== language && response.language === language)) {
      byShortcut.set(response.shortcut, response);
    }
  }
  return [...byShortcut.values()];
}

function matching(responses, query) {
  const q = query.trim().toLowerCase().replace(/^\//, "");
  if (!q) return responses;
  const starts = responses.filter((r) => r.shortcut.startsWith(q));
  const rest = responses.filter(
    (r) => !r.shortcut.startsWith(q) && `${r.shortcut} ${r.title} ${r.text}`.toLowerCase().includes(q),
  );
  return [...starts, ...rest];
}

function render() {
  const offer = state.current && loaded.get(state.current.id);
  if (!offer) return;
  shown = matching(versions(offer.responses), search.value);
  list.replaceChildren(...shown.map(option));
  if (!offer.responses.length) status.textContent = S.none;
  else if (!shown.length) status.textContent = S.no_match;
  else status.textContent = shown.length === 1 ? S.count_one : format(S.count_many, { count: shown.length });
  highlight(shown.length ? 0 : -1);
}

function option(response, index) {
  const li = element("li", "canned__option");
  li.id = `canned-option-${response.id}`;
  li.setAttribute("role", "option");
  li.setAttribute("aria-selected", "false");
  li.lang = response.language;
  const head = element("span", "canned__option-head");
  head.append(
    element("span", "canned__shortcut", `/${response.shortcut}`),
    element("span", "canned__title", response.title),
    element("span", "canned__language", S[response.language] || response.language),
  );
  li.append(head, element("span", "canned__preview", response.text));
  // Keep the focus in the search field: the click chooses, the keyboard stays where it was.
  li.addEventListener("mousedown", (event) => event.preventDefault());
  li.addEventListener("click", () => insert(index));
  return li;
}

function highlight(index) {
  active = index;
  for (const [i, li] of [...list.children].entries()) li.setAttribute("aria-selected", String(i === index));
  const chosen = list.children[index];
  if (chosen) {
    search.setAttribute("aria-activedescendant", chosen.id);
    chosen.scrollIntoView({ block: "nearest" });
  } else {
    search.removeAttribute("aria-activedescendant");
  }
}

function insert(index) {
  const response = shown[index];
  if (!response) return;
  const [start, end] = caret || [ui.body.value.length, ui.body.value.length];
  close();
  ui.body.setRangeText(response.text, start, end, "end");
  // As if typed: the draft is kept and the visitor sees the counsellor typing.
  ui.body.dispatchEvent(new Event("input", { bubbles: true }));
  status.textContent = format(S.inserted, { title: response.title });
}

search.addEventListener("input", render);
search.addEventListener("keydown", (event) => {
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    if (!shown.length) return;
    const step = event.key === "ArrowDown" ? 1 : -1;
    highlight((active + step + shown.length) % shown.length);
  } else if (event.key === "Home" && event.ctrlKey) {
    event.preventDefault();
    highlight(shown.length ? 0 : -1);
  } else if (event.key === "Enter" && !event.isComposing) {
    event.preventDefault();
    insert(active);
  } else if (event.key === "Escape") {
    event.preventDefault();
    const typedSlash = openedBySlash && !search.value;
    close();
    // A "/" and nothing else: the counsellor meant the character itself.
    if (typedSlash) ui.body.setRangeText("/", ...caret, "end");
  } else if (event.key === "Tab") {
    close(false);
  }
});

for (const button of languageButtons) {
  button.addEventListener("click", () => {
    setLanguage(button.dataset.language);
    search.focus();
  });
}

box.addEventListener("focusout", (event) => {
  if (!box.contains(event.relatedTarget) && event.relatedTarget !== null) close(false);
});

opener.addEventListener("click", () => (box.hidden ? open({ slash: false }) : close()));

// "/" at the start of a line of the composer opens the list instead of being typed.
ui.body.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || opener.hidden) return;
  const before = ui.body.value.slice(0, ui.body.selectionStart);
  if (before && !before.endsWith("\n")) return;
  event.preventDefault();
  open({ slash: true });
});
