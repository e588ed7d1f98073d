// Wrap-up: the categories and summary a conversation is closed with, and correcting them later.
import { element, format } from "../common.js";
import { refused, showSignedOut, socket } from "./connection.js";
import { renderHead } from "./conversation.js";
import { categoryTags, upsert } from "./list.js";
import { notice } from "./notices.js";
import { T, mine, page, state, ui } from "./state.js";

const { wrapDrafts } = state;

const SUMMARY_MAX = 2000;
const T_LOADING = ui.categoriesLoading.textContent;
const ARROWS = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };

/** Show the wrap-up form, the closed conversation's categories, or neither. */
export function renderWrapUp(s) {
  const c = state.current;
  if (s.state !== "closed") c.correcting = false;
  const mode = s.state === "wrap_up" ? "close" : c.correcting ? "correct" : null;
  ui.wrapUp.hidden = !mode;
  ui.closedInfo.hidden = s.state !== "closed" || Boolean(mode);
  if (!ui.closedInfo.hidden) renderClosedInfo(s);
  ui.conv.classList.toggle("conv--wrap-up", Boolean(mode));
  if (mode && mode !== c.wrapMode) startWrapUp(s, mode);
  else if (mode && !c.categoryTree && !c.categoriesAsked) loadCategories(c, s.service);
  // The chat ended while focus was on something now gone (e.g. the End button): not on <body>.
  if (mode === "close" && c.wrapMode !== "close" && focusLost()) focusWrapUp();
  c.wrapMode = mode;
}

function focusLost() {
  const el = document.activeElement;
  return !el || el === document.body || el.getClientRects().length === 0;
}

/** Move focus into the wrap-up form: its first category once they are there, its heading until then. */
export function focusWrapUp() {
  const c = state.current;
  if (!c || ui.wrapUp.hidden) return;
  const first = ui.categoryChoices.querySelector("input");
  if (first) {
    first.focus();
    return;
  }
  c.focusChoices = true;
  ui.wrapUpHeading.focus();
}

function startWrapUp(s, mode) {
  const c = state.current;
  const correcting = mode === "correct";
  const draft = correcting ? null : wrapDrafts.get(c.id);
  ui.wrapUpHeading.textContent = correcting ? T.correct_heading : T.wrap_up;
  ui.wrapUpSubmit.textContent = correcting ? T.save_corrections : T.close_conversation;
  ui.wrapUpCancel.hidden = !correcting;
  c.checked = new Set(correcting ? (s.categories || []).map((x) => x.id) : draft ? draft.checked : []);
  ui.summary.value = correcting ? c.closedSummary || "" : draft ? draft.summary : "";
  // Rows carry no summary: a correction made after a reload writes it anew.
  ui.summary.placeholder = correcting && c.closedSummary === null ? T.summary_unknown : "";
  clearWrapUpErrors();
  updateWrapUp();
  loadCategories(c, s.service);
}

export function keepWrapDraft() {
  const c = state.current;
  if (c && c.wrapMode === "close") wrapDrafts.set(c.id, { summary: ui.summary.value, checked: c.checked });
}

function loadCategories(c, service) {
  c.categoryTree = null;
  ui.categoryChoices.replaceChildren();
  ui.categoriesLoading.textContent = T_LOADING;
  ui.categoriesLoading.hidden = false;
  if (!socket.connected) return; // asked again when `open` answers after reconnecting
  c.categoriesAsked = true;
  socket.timeout(8000).emit("categories", { service }, (err, ack) => {
    if (c !== state.current) return;
    c.categoriesAsked = false;
    if (err || !ack.ok) {
      ui.categoriesLoading.textContent = T.categories_failed;
      if (ack && !ack.ok) refused(ack);
      return;
    }
    c.categoryTree = ack.categories;
    buildChoices(c);
  });
}

/** The checkboxes: top-level categories numbered 1-9, subcategories under their parent. */
function buildChoices(c) {
  const items = c.categoryTree.map((category, i) => choiceItem(c, category, i < 9 ? i + 1 : null));
  // A correction keeps categories retired since closing, until they are unticked.
  const shown = new Set(c.categoryTree.flatMap((x) => [x.id, ...x.children.map((y) => y.id)]));
  // At closing only what is offered now can be chosen (an admin may have just retired one).
  if (c.wrapMode === "close") c.checked = new Set([...c.checked].filter((id) => shown.has(id)));
  const kept = ((c.summary && c.summary.categories) || []).filter((x) => c.checked.has(x.id) && !shown.has(x.id));
  for (const category of kept) {
    items.push(choiceItem(c, { ...category, name: format(T.retired_category, { name: category.name }), children: [] }));
  }
  ui.categoryChoices.replaceChildren(...items);
  ui.categoriesLoading.textContent = T.no_categories;
  ui.categoriesLoading.hidden = items.length > 0;
  updateWrapUp();
  if (c.focusChoices) {
    c.focusChoices = false;
    const first = ui.categoryChoices.querySelector("input");
    // Only if the counsellor has not moved on meanwhile.
    if (first && (focusLost() || document.activeElement === ui.wrapUpHeading)) first.focus();
  }
}

function choiceItem(c, category, number = null) {
  const li = element("li", "category-choice");
  const label = element("label", "category-choice__label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.value = String(category.id);
  box.checked = c.checked.has(category.id);
  if (number) box.dataset.key = String(number);
  box.addEventListener("change", () => {
    if (box.checked) c.checked.add(category.id);
    else c.checked.delete(category.id);
    showFieldError(ui.categoriesError, null);
    updateWrapUp();
  });
  label.append(box);
  if (number) {
    const key = element("kbd", "category-choice__key", String(number));
    key.setAttribute("aria-hidden", "true");
    label.append(key);
  }
  label.append(element("span", "", category.name));
  li.append(label);
  if (category.children && category.children.length) {
    const sub = element("ul", "category-choices category-choices--sub");
    sub.append(...category.children.map((child) => choiceItem(c, child)));
    li.append(sub);
  }
  return li;
}

function updateWrapUp() {
  const c = state.current;
  const length = [...ui.summary.value].length;
  ui.summaryCount.textContent = `${length} / ${SUMMARY_MAX}`;
  ui.summaryCount.classList.toggle("counter--over", length >= SUMMARY_MAX);
  ui.wrapUpSubmit.disabled = !c || c.submitting || c.checked.size === 0 || !ui.summary.value.trim();
}

export function showFieldError(el, text, input) {
  el.textContent = text || "";
  el.hidden = !text;
  if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
}

function clearWrapUpErrors() {
  showFieldError(ui.categoriesError, null);
  showFieldError(ui.summaryError, null, ui.summary);
  showFieldError(ui.wrapUpError, null);
}

export function messagesOf(value) {
  if (Array.isArray(value)) return value.flatMap(messagesOf);
  if (value && typeof value === "object") return Object.values(value).flatMap(messagesOf);
  return value ? [String(value)] : [];
}

/** Put a refused close or correction next to the inputs it concerns. */
function showWrapUpError(error) {
  if (error.code === "unauthorized") {
    showSignedOut();
    return;
  }
  const fields = error.code === "invalid" ? { ...(error.fields || {}) } : {};
  if (error.code === "invalid_categories") {
    fields.categories = [error.message];
    loadCategories(state.current, state.current.summary.service);
  }
  if (fields.summary) {
    showFieldError(ui.summaryError, messagesOf(fields.summary).join(" "), ui.summary);
    ui.summary.focus();
  }
  if (fields.categories) showFieldError(ui.categoriesError, messagesOf(fields.categories).join(" "));
  delete fields.summary;
  delete fields.categories;
  let rest = [];
  if (error.code === "invalid") rest = messagesOf(fields);
  else if (error.code !== "invalid_categories") rest = [error.message];
  showFieldError(ui.wrapUpError, rest.join(" ") || null);
}

function submitWrapUp() {
  const c = state.current;
  if (!c || !c.wrapMode || ui.wrapUpSubmit.disabled) return;
  clearWrapUpErrors();
  if (!socket.connected) {
    showWrapUpError({ message: T.offline });
    return;
  }
  const correcting = c.wrapMode === "correct";
  const summary = ui.summary.value.trim();
  const payload = { conversation_id: c.id, summary, categories: [...c.checked] };
  c.submitting = true;
  updateWrapUp();
  socket.timeout(8000).emit(correcting ? "recategorise" : "close", payload, (err, ack) => {
    c.submitting = false;
    if (c !== state.current) return;
    updateWrapUp();
    if (err || !ack.ok) {
      showWrapUpError(err ? { message: T.error_timeout } : ack.error || {});
      return;
    }
    c.closedSummary = summary;
    c.correcting = false;
    wrapDrafts.delete(c.id);
    upsert(ack.conversation);
    notice(correcting ? T.corrected_ok : T.closed_ok);
    (ui.recategorise.hidden ? ui.closedInfo : ui.recategorise).focus();
  });
}

function renderClosedInfo(s) {
  ui.closedCategories.replaceChildren(categoryTags(s.categories || [], "closed-info__tags"));
  const summary = state.current.closedSummary;
  ui.closedSummaryLine.hidden = !summary;
  ui.closedSummary.textContent = summary || "";
  ui.recategorise.hidden = !(mine(s) || page.recategorisesAny);
}

ui.wrapUp.addEventListener("submit", (event) => {
  event.preventDefault();
  submitWrapUp();
});

ui.wrapUp.addEventListener("keydown", (event) => {
  if (event.target === ui.summary) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submitWrapUp();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (/^[1-9]$/.test(event.key)) {
    const box = ui.categoryChoices.querySelector(`input[data-key="${event.key}"]`);
    if (!box) return;
    event.preventDefault();
    box.click();
    box.focus();
    return;
  }
  const step = ARROWS[event.key];
  if (step && event.target.matches("#category-choices input")) {
    const boxes = [...ui.categoryChoices.querySelectorAll("input")];
    const next = boxes[boxes.indexOf(event.target) + step];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }
});

ui.summary.addEventListener("input", () => {
  if (ui.summary.value.trim()) showFieldError(ui.summaryError, null, ui.summary);
  updateWrapUp();
});

ui.recategorise.addEventListener("click", () => {
  state.current.correcting = true;
  state.current.focusChoices = true;
  renderHead();
});

ui.wrapUpCancel.addEventListener("click", () => {
  state.current.correcting = false;
  renderHead();
  ui.recategorise.focus();
});
