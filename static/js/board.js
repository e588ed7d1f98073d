// The supervisor board: the server's board, shown in four tables and kept current live.
import { io } from "../vendor/socket.io.esm.min.js";
import { element, format, readJson } from "./common.js";
import { since, stopwatch } from "./inbox/time.js";

const T = readJson("i18n");
const $ = (id) => document.getElementById(id);
// Only to follow the board: this socket does not make the supervisor online in the inbox.
const socket = io("/inbox", { auth: { board: true } });
let shown = null;

function cell(tag, text, className) {
  const el = element(tag, className || "", text);
  if (tag === "th") el.scope = "row";
  return el;
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

function waitText(iso) {
  return iso ? stopwatch(since(iso)) : "–";
}

function overThreshold(iso) {
  return Boolean(iso) && since(iso) / 1000 >= shown.threshold_seconds;
}

function renderQueues() {
  const rows = shown.queues.map((q) => {
    const wait = cell("td", waitText(q.longest_since), "num board-clock");
    wait.dataset.since = q.longest_since || "";
    return row(cell("th", q.service_name), cell("td", T[`channel_${q.channel}`]), cell("td", String(q.waiting), "num"), wait);
  });
  $("board-queues").replaceChildren(...rows);
}

function attention(iso) {
  const long = overThreshold(iso);
  // Said in words, and marked with a symbol and a border: not by colour alone.
  return element("span", long ? "board-flag board-flag--long" : "board-flag", long ? `⚠ ${T.waiting_long}` : T.within_limit);
}

function renderWaiting() {
  const rows = shown.waiting.map((w) => {
    const wait = cell("td", waitText(w.waiting_since), "num board-clock");
    wait.dataset.since = w.waiting_since;
    const flag = cell("td", "");
    flag.append(attention(w.waiting_since));
    const tr = row(cell("th", format(T.conversation, { id: w.id })), cell("td", w.service_name), cell("td", T[`channel_${w.channel}`]), wait, flag);
    tr.dataset.since = w.waiting_since;
    if (overThreshold(w.waiting_since)) tr.className = "board-row--long";
    return tr;
  });
  $("board-waiting").replaceChildren(...rows);
  $("board-waiting-empty").hidden = rows.length > 0;
}

function renderStaff() {
  const rows = shown.staff.map((s) => {
    const status = cell("td", "");
    status.append(element("span", `badge badge--status-${s.status || "none"}`, T[`status_${s.status || "none"}`]));
    return row(cell("th", s.name), cell("td", s.role), status, cell("td", format(T.chats, { active: s.active_chats, max: s.max_chats }), "num"));
  });
  $("board-staff").replaceChildren(...rows);
  $("board-staff-empty").hidden = rows.length > 0;
}

function renderToday() {
  const rows = shown.today.map((t) =>
    row(cell("th", t.service_name), ...["chat", "form", "phone", "total"].map((k) => cell("td", String(t[k]), "num"))),
  );
  $("board-today").replaceChildren(...rows);
}

function render(board) {
  shown = board;
  renderQueues();
  renderWaiting();
  renderStaff();
  renderToday();
  const at = new Date(board.generated_at).toLocaleTimeString(document.documentElement.lang);
  $("board-updated").textContent = format(T.updated, { time: at });
}

function tick() {
  if (!shown) return;
  for (const el of document.querySelectorAll(".board-clock")) el.textContent = waitText(el.dataset.since);
  for (const tr of $("board-waiting").querySelectorAll("tr")) {
    const long = overThreshold(tr.dataset.since);
    if (long === tr.classList.contains("board-row--long")) continue;
    tr.classList.toggle("board-row--long", long);
    tr.lastElementChild.replaceChildren(attention(tr.dataset.since));
  }
}

socket.on("connect", () => {
  $("connection").textContent = T.connected;
  $("connection").className = "conn conn--online";
  socket.timeout(8000).emit("watch_board", {}, (err, ack) => {
    if (!err && ack.ok) render(ack.board);
  });
});
socket.on("disconnect", () => {
  $("connection").textContent = T.offline;
  $("connection").className = "conn conn--offline";
});
socket.on("connect_error", () => {
  if (!socket.active) $("signed-out").hidden = false;
});
socket.on("board_changed", render);
setInterval(tick, 1000);
