// What the inbox page knows: its strings, its elements, and the one mutable state object.
import { readJson } from "../common.js";

export const T = readJson("i18n");
export const $ = (id) => document.getElementById(id);
export const root = $("main");
export const me = Number(root.dataset.me);
export const lang = document.documentElement.lang;

/** What the signed-in person may do here, as the page tells it. */
export const page = {
  canBook: root.dataset.canBook === "true",
  recategorisesAny: root.dataset.recategorisesAny === "true",
  blocksAny: root.dataset.blocksAny === "true",
  hasPhone: root.dataset.hasPhone === "true",
};

export const ui = {
  connection: $("connection"),
  signedOut: $("signed-out"),
  notices: $("notices"),
  sound: $("sound"),
  takeCalls: $("take-calls"),
  takeCallsHint: $("take-calls-hint"),
  ringStatus: $("ring-status"),
  announcer: $("announcer"),
  shortcuts: $("shortcuts"),
  shortcutsOpen: $("shortcuts-open"),
  filters: $("filters"),
  list: $("list"),
  listEmpty: $("list-empty"),
  placeholder: $("placeholder"),
  conv: $("conv"),
  title: $("conv-title"),
  meta: $("conv-meta"),
  claim: $("claim"),
  transferBox: $("transfer-box"),
  transferTo: $("transfer-to"),
  transfer: $("transfer"),
  handoverNote: $("handover-note"),
  handover: $("handover"),
  handoverHeading: $("handover-heading"),
  handoverBody: $("handover-body"),
  handoverDismiss: $("handover-dismiss"),
  myStatus: $("my-status"),
  end: $("end"),
  bookFollowup: $("book-followup"),
  exportForm: $("export-form"),
  messages: $("messages"),
  typing: $("typing"),
  wrapUp: $("wrap-up"),
  wrapUpHeading: $("wrap-up-heading"),
  categoriesLoading: $("categories-loading"),
  categoryChoices: $("category-choices"),
  categoriesError: $("categories-error"),
  summary: $("summary"),
  summaryCount: $("summary-count"),
  summaryError: $("summary-error"),
  wrapUpError: $("wrap-up-error"),
  wrapUpSubmit: $("wrap-up-submit"),
  wrapUpCancel: $("wrap-up-cancel"),
  closedInfo: $("closed-info"),
  closedCategories: $("closed-categories"),
  closedSummaryLine: $("closed-summary-line"),
  closedSummary: $("closed-summary"),
  recategorise: $("recategorise"),
  referrals: $("referrals"),
  referralsEmpty: $("referrals-empty"),
  referralForm: $("referral-form"),
  referralKind: $("referral-kind"),
  referralDate: $("referral-date"),
  referralNote: $("referral-note"),
  referralError: $("referral-error"),
  referralAdd: $("referral-add"),
  composer: $("composer"),
  body: $("body"),
  bodyLabel: $("body-label"),
  note: $("note"),
  hint: $("composer-hint"),
  send: $("send"),
  history: $("history"),
  historyEmpty: $("history-empty"),
  phone: $("phone"),
  phoneStage: $("phone-stage"),
  phoneCaller: $("phone-caller"),
  phoneTalk: $("phone-talk"),
  callBackBox: $("call-back-box"),
  callBack: $("call-back"),
  callBackWhy: $("call-back-why"),
  voicemail: $("voicemail"),
  voicemailLabel: $("voicemail-label"),
  voicemailAudio: $("voicemail-audio"),
  deleteVoicemail: $("delete-voicemail"),
  voicemailDeleted: $("voicemail-deleted"),
};

export const state = {
  rows: new Map(), // conversation id -> summary row shown in the list
  rowEls: new Map(), // conversation id -> <li>
  outboxes: new Map(), // conversation id -> Outbox of that conversation's unsent messages
  wrapDrafts: new Map(), // conversation id -> {summary, checked} of an unfinished wrap-up
  filters: null, // what the filter form asks for, read by the list
  current: null, // the opened conversation
  signedOut: false,
  status: null, // the signed-in person's own status: available, away, on_break (null: none)
};

/** Whether the signed-in counsellor has this conversation. */
export function mine(summary) {
  return Boolean(summary && summary.assignee && summary.assignee.id === me);
}
