// Short messages at the top of the inbox that go away by themselves.
import { element } from "../common.js";
import { ui } from "./state.js";

export function notice(text, action) {
  const item = element("div", "notice-item");
  item.append(element("span", "", text));
  if (action) {
    const go = element("button", "button button--small", action.label);
    go.type = "button";
    go.addEventListener("click", () => {
      action.run();
      item.remove();
    });
    item.append(go);
  }
  const close = element("button", "notice-item__close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.addEventListener("click", () => item.remove());
  item.append(close);
  ui.notices.append(item);
  setTimeout(() => item.remove(), 12000);
}
