// The list of conversations: what the filters ask for, in order, kept current live.
import { clock, element, format } from "../common.js";
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
  return format(T.since, { time: ago(since(row.last_message_at || row.created_at)) });
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
  const queued = (a.state !== "queued") - (b.state !== "queued");
  if (queued) return queued;
  const aw = a.waiting_since || "\uffff";
  const bw = b.waiting_since || "\uffff";
  return aw.localeCompare(bw) || b.id - a.id;
}

export function badge(text, modifier) {
  return element("span", `badge ${modifier ? `badge--${modifier}` : ""}`, text);
}

function fillRow(li, row) {
  const { current } = state;
  const button = li.firstElementChild;
  const ringingClass = ringing(row) ? " row--ringing" : "";
  button.className = `row row--${row.state}${ringingClass}${current && current.id === row.id ? " row--current" : ""}`;
  if (current && current.id === row.id) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");
  const top = element("span", "row__top");
  top.append(element("span", "row__service", row.service_name), badge(T[`state_${row.state}`] || row.state, row.state));
  if (row.phone) top.append(stageBadge(row));
  if (row.unread) top.append(badge(format(T.unread, { count: row.unread }), "unread"));
  const middle = element("span", "row__middle");
  middle.append(channelLabel(row));
  if (row.phone) middle.append(element("span", "row__caller", callerText(row.phone)));
  // A ringing call's badge already counts the waiting time.
  if (!ringing(row)) {
    const time = element("span", "row__time", timeText(row));
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

export function upsert(row) {
  const { current } = state;
  if (!row || !row.id) return;
  const before = rows.get(row.id) || (current && current.id === row.id ? current.summary : null);
  if (liveDuringList) liveDuringList.push(row);
  place(row);
  renderList();
  if (row.phone) noticeCall(before, row);
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
