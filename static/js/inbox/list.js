// The list of conversations: what the filters ask for, in order, kept current live.
import { clock, element, format } from "../common.js";
import { noticeMessages } from "./alerts.js";
import { refused, socket } from "./connection.js";
import { openConversation, renderHead } from "./conversation.js";
import { markRead } from "./messages.js";
import { offerWatch } from "./monitor.js";
import { callerText, noticeCall, ringing, stageBadge } from "./phone.js";
import { T, lang, me, state, ui } from "./state.js";
import { ago, since, stopwatch } from "./time.js";

const DEFAULT_STATES = ["queued", "active", "wrap_up"];
const { rows, rowEls } = state;

function timeText(row) {
  if (row.state === "queued") return format(T.waiting_for, { time: stopwatch(since(row.waiting_since || row.created_at)) });
  if (row.state === "closed") return clock(row.closed_at, lang);
  if (row.visitor_waiting_since) return format(T.waiting_for, { time: stopwatch(since(row.visitor_waiting_since)) });
  return format(T.since, { time: ago(since(row.last_message_at || row.created_at)) });
}

/** The visitor's letter in their colour, and their label ("Visitor 3 · 16–17"). */
export function visitorLabel(row, className) {
  const label = element("span", `visitor ${className}`);
  const visitor = row.visitor || { name: T.visitor, letter: "?", colour: "" };
  const letter = element("span", "visitor__letter", visitor.letter);
  letter.setAttribute("aria-hidden", "true");
  if (visitor.colour) letter.style.backgroundColor = visitor.colour;
  label.append(letter, element("span", "visitor__name", visitor.name));
  return label;
}

/** The last message, for the rows that carry one (only the assignee's). */
function previewLine(row) {
  if (!row.preview) return null;
  const mineLast = row.preview.sender !== "visitor";
  const text = mineLast ? format(T.you_wrote, { text: row.preview.text }) : row.preview.text;
  return element("span", `row__preview${mineLast ? " row__preview--mine" : ""}`, text);
}

function channelLabel(row) {
  const el = element("span", `row__channel row__channel--${row.channel}`);
  if (row.channel === "phone") {
    const icon = element("span", "phone-icon", "☎");
    icon.setAttribute("aria-hidden", "true");
    el.append(icon);
  }
  el.append(T[`channel_${row.channel}`] || row.channel);
  return el;
}

function readFilters() {
  const form = new FormData(ui.filters);
  return {
    service: form.get("service") || "",
    channel: form.get("channel") || "",
    state: form.get("state") || "",
    mine: form.get("mine") === "on",
  };
}

function listPayload() {
  const { filters } = state;
  const payload = {};
  if (filters.service) payload.service = filters.service;
  if (filters.channel) payload.channel = filters.channel;
  if (filters.state) payload.states = [filters.state];
  if (filters.mine) payload.mine = true;
  return payload;
}

export function matches(row) {
  const { filters } = state;
  if (filters.service && row.service !== filters.service) return false;
  if (filters.channel && row.channel !== filters.channel) return false;
  if (!(filters.state ? [filters.state] : DEFAULT_STATES).includes(row.state)) return false;
  if (filters.mine && !(row.assignee && row.assignee.id === me)) return false;
  return true;
}

function compare(a, b) {
  const { filters } = state;
  if (filters.state) {
    return (b.created_at || "").localeCompare(a.created_at || "") || b.id - a.id;
  }
  // As the server lists them: waiting first, oldest first; then the latest activity first.
  const queued = (a.state !== "queued") - (b.state !== "queued");
  if (queued) return queued;
  if (a.state === "queued") {
    return (a.waiting_since || "").localeCompare(b.waiting_since || "") || a.id - b.id;
  }
  const latest = (row) => row.last_message_at || row.created_at || "";
  return latest(b).localeCompare(latest(a)) || b.id - a.id;
}

export function badge(text, modifier) {
  return element("span", `badge ${modifier ? `badge--${modifier}` : ""}`, text);
}

function fillRow(li, row) {
  const { current } = state;
  const button = li.firstElementChild;
  const ringingClass = ringing(row) ? " row--ringing" : "";
  const unreadClass = row.unread ? " row--unread" : "";
  button.className = `row row--${row.state}${ringingClass}${unreadClass}${current && current.id === row.id ? " row--current" : ""}`;
  if (current && current.id === row.id) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");
  button.dataset.id = String(row.id);
  const top = element("span", "row__top");
  top.append(visitorLabel(row, "row__visitor"), badge(T[`state_${row.state}`] || row.state, row.state));
  if (row.phone) top.append(stageBadge(row));
  if (row.unread) top.append(badge(format(T.unread, { count: row.unread }), "unread"));
  const middle = element("span", "row__middle");
  middle.append(element("span", "row__service", row.service_name), channelLabel(row));
  if (row.phone) middle.append(element("span", "row__caller", callerText(row.phone)));
  // A ringing call's badge already counts the waiting time.
  if (!ringing(row)) {
    const waiting = row.state === "active" && row.visitor_waiting_since;
    const time = element("span", `row__time${waiting ? " row__time--waiting" : ""}`, timeText(row));
    time.dataset.id = String(row.id);
    middle.append(time);
  }
  middle.append(element("span", "row__assignee", row.assignee ? row.assignee.name : T.unassigned));
  const flags = element("span", "row__flags");
  if (row.phone && row.phone.callback_under_way) flags.append(badge(T.calling_back, "calling"));
  if (row.channel === "chat" && !row.visitor_present && row.state !== "closed") {
    flags.append(badge(T.visitor_gone, "gone"));
  }
  if (row.earlier_conversations) {
    const text = row.earlier_conversations === 1 ? T.earlier_one : format(T.earlier_many, { count: row.earlier_conversations });
    flags.append(badge(text, "earlier"));
  }
  button.replaceChildren(top, middle);
  const preview = previewLine(row);
  if (preview) button.append(preview);
  if (flags.childElementCount) button.append(flags);
  if (row.categories && row.categories.length) button.append(categoryTags(row.categories, "row__tags"));
  offerWatch(li, row);
}

export function categoryTags(categories, className) {
  const tags = element("span", `tags ${className}`);
  for (const category of categories) tags.append(element("span", "tag", category.name));
  return tags;
}

export function renderList() {
  const ordered = [...rows.values()].sort(compare);
  const keep = new Set(ordered.map((r) => r.id));
  for (const [id, li] of rowEls) {
    if (!keep.has(id)) {
      li.remove();
      rowEls.delete(id);
    }
  }
  let previous = null;
  for (const row of ordered) {
    let li = rowEls.get(row.id);
    if (!li) {
      li = element("li", "conv-list__item");
      const button = element("button", "row");
      button.type = "button";
      button.addEventListener("click", () => openConversation(row.id));
      li.append(button);
      rowEls.set(row.id, li);
    }
    fillRow(li, row);
    const expected = previous ? previous.nextElementSibling : ui.list.firstElementChild;
    if (expected !== li) {
      if (previous) previous.after(li);
      else ui.list.prepend(li);
    }
    previous = li;
  }
  ui.listEmpty.hidden = ordered.length > 0;
  updateTitle();
}

function updateTitle() {
  let count = 0;
  let calls = 0;
  for (const row of rows.values()) {
    if (row.state === "queued") count += 1;
    else if (row.assignee && row.assignee.id === me) count += row.unread || 0;
    if (ringing(row)) calls += 1;
  }
  const title = calls ? `${T.ringing_title} · ${T.title}` : T.title;
  document.title = count ? `(${count}) ${title}` : title;
}

let listAsked = 0;
let liveDuringList = null;

export function requestList() {
  const asked = ++listAsked;
  liveDuringList = [];
  socket.timeout(8000).emit("list", listPayload(), (err, ack) => {
    if (asked !== listAsked) return;
    if (err) {
      if (socket.connected) setTimeout(requestList, 2000);
      return;
    }
    const late = liveDuringList || [];
    liveDuringList = null;
    if (!ack.ok) {
      refused(ack);
      return;
    }
    rows.clear();
    for (const row of ack.conversations) rows.set(row.id, row);
    // Updates that crossed the list's answer on the wire are newer than it.
    for (const row of late) place(row);
    renderList();
  });
}

function place(row) {
  if (matches(row)) rows.set(row.id, row);
  else rows.delete(row.id);
}

/**
 * A row sent to everyone carries no preview: keep the one this person was sent before, as long
 * as the conversation stays with the same person.
 */
function keepPreview(before, row) {
  if ("preview" in row || !before || !("preview" in before)) return row;
  const was = before.assignee && before.assignee.id;
  const is = row.assignee && row.assignee.id;
  return was && was === is ? { ...row, preview: before.preview } : row;
}

export function upsert(update) {
  const { current } = state;
  if (!update || !update.id) return;
  const before = rows.get(update.id) || (current && current.id === update.id ? current.summary : null);
  const row = keepPreview(before, update);
  if (liveDuringList) liveDuringList.push(row);
  place(row);
  renderList();
  if (row.phone) noticeCall(before, row);
  noticeMessages(before, row);
  if (current && current.id === row.id) {
    current.summary = row;
    renderHead();
    markRead();
  }
}

state.filters = readFilters();

ui.filters.addEventListener("change", () => {
  state.filters = readFilters();
  rows.clear();
  renderList();
  requestList();
});
ui.filters.addEventListener("submit", (event) => event.preventDefault());

setInterval(() => {
  for (const el of ui.list.querySelectorAll(".row__time")) {
    const row = rows.get(Number(el.dataset.id));
    if (row) el.textContent = timeText(row);
  }
  for (const el of document.querySelectorAll(".timer")) el.textContent = stopwatch(since(el.dataset.since));
}, 1000);
