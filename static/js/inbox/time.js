// How long ago, and for how long: the list's and the phone's clocks.
import { element } from "../common.js";

export function since(iso) {
  return iso ? Date.now() - new Date(iso).getTime() : 0;
}

export function stopwatch(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function ago(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  if (minutes < 1) return "<1 min";
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** m:ss since `iso`, kept current by the one-second interval. */
export function timer(iso) {
  const el = element("span", "timer", stopwatch(since(iso)));
  el.dataset.since = iso || "";
  return el;
}
