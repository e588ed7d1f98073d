// The inbox's socket: its state on the page, the session kept alive, and asking the server.
import { io } from "../../vendor/socket.io.esm.min.js";
import { notice } from "./notices.js";
import { T, state, ui } from "./state.js";

export const socket = io("/inbox");

// A socket's events keep only the socket's sign-in alive. While the counsellor works in the
// inbox, tell the session cookie as well, now and then, so the next page does not ask to sign
// in again; a tab left alone still reaches the idle timeout.
const RENEW_EVERY_MS = 5 * 60 * 1000;
let renewedAt = Date.now();
socket.onAnyOutgoing(() => {
  if (Date.now() - renewedAt < RENEW_EVERY_MS) return;
  renewedAt = Date.now();
  fetch("/account/active", { credentials: "same-origin", cache: "no-store" }).catch(() => {});
});

export function showOnline() {
  state.signedOut = false;
  ui.signedOut.hidden = true;
  ui.connection.textContent = T.connected;
  ui.connection.className = "conn conn--online";
}

export function showOffline() {
  ui.connection.textContent = T.offline;
  ui.connection.className = "conn conn--offline";
}

export function showSignedOut() {
  state.signedOut = true;
  ui.signedOut.hidden = false;
  ui.connection.textContent = "";
  ui.connection.className = "conn conn--offline";
}

export function refused(ack) {
  const error = (ack && ack.error) || {};
  if (error.code === "unauthorized") {
    showSignedOut();
    return;
  }
  notice(error.message || T.error_timeout);
}

/**
 * Emit `event` and pass the answer to `done` if the server agreed; a timeout or a refusal is
 * shown instead. Once `stale()` is true (e.g. another conversation was opened) the answer is
 * ignored altogether.
 */
export function ask(event, payload, stale, done, settled = () => {}) {
  socket.timeout(8000).emit(event, payload, (err, ack) => {
    if (stale()) return;
    settled();
    if (err) {
      notice(T.error_timeout);
      return;
    }
    if (!ack.ok) {
      refused(ack);
      return;
    }
    done(ack);
  });
}
