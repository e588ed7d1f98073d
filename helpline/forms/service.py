"""Contact forms: a sent form becomes a conversation; its sender returns with a code and secret."""

import functools
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, get_template_attribute
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpline.auth.models import StaffUser, hasher
from helpline.codes import ALPHABET, group, keyed_hash, normalise
from helpline.encryption import seal, unseal
from helpline.errors import log_unexpected
from helpline.extensions import db
from helpline.forms.models import FormSubmission
from helpline.forms.schemas import AGE_SHORT
from helpline.inbox import intake, messages, receipts, signals, summaries
from helpline.inbox.errors import InboxError, NotFound
from helpline.inbox.find import by_id as conversation_by_id
from helpline.inbox.models import Conversation, Message, Service
from helpline.inbox.permissions import require
from helpline.mail import send_mail
from helpline.timeutil import utcnow

CODE_LENGTH = 8  # 40 bits: the case number
SECRET_LENGTH = 12  # 60 bits: the password; a guess must get both right
DUPLICATE_WINDOW = timedelta(minutes=30)


class AlreadySent(InboxError):
    code = "already_sent"
    default_message = "This form was sent before."


class UnknownReply(InboxError):
    code = "unknown_reply"
    status = 422
    default_message = "We do not know this combination of code and secret."


@dataclass
class Receipt:
    """What the sender of a form needs to come back: shown once, on the thank-you page."""

    conversation: Conversation
    code: str
    secret: str
    created: bool


def _reply_code(submission_key: str) -> str:
    """The case number, the same for every send of one form page; it opens nothing alone."""
    digest = hmac.new(
        current_app.config["HASH_KEY"], f"reply-code:{submission_key}".encode(), hashlib.sha256
    ).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _index in range(CODE_LENGTH):
        number, remainder = divmod(number, 32)
        chars.append(ALPHABET[remainder])
    return "".join(chars)


def _new_secret() -> str:
    """Random, and kept only as an argon2 hash: nothing the server holds can make it again."""
    return "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))


def reply_code_hash(code: str) -> str:
    """What is kept of a reply code (normalised): its keyed hash."""
    return keyed_hash("reply-code", code)


def render_answers(kind: str, answers: dict) -> str:
    """The answers in English for staff, each under its question, in the order of the form."""
    macro = functools.partial(get_template_attribute, "forms/labels.html")
    with force_locale("en"):
        blocks = [
            f"{_plain(macro('field_label')(kind, name))}\n{_answer_text(kind, name, value)}"
            for name in _plain(macro("fields_of")(kind)).split()
            if (value := answers.get(name))
        ]
    return "\n\n".join(blocks)


def _answer_text(kind: str, name: str, value) -> str:
    """One answer as words: a choice by its label (from the form's own labels), else as given."""
    if name == "about":
        return _plain(get_template_attribute("forms/labels.html", "about_label")(kind, value))
    if name == "age_band":
        return _plain(get_template_attribute("forms/labels.html", "age_label")(value))
    return "\n".join(value) if isinstance(value, list) else str(value)


def _plain(markup: Markup) -> str:
    """A macro's output as plain text: the message body is text, shown escaped by the inbox."""
    return markup.unescape().strip()


def submit(service: Service, answers: dict, language: str | None = None) -> Receipt:
    """Turn a valid form into a waiting conversation; the same page sent twice makes one.
    `language`: that of the page it was sent from (nl, en)."""
    key = answers.pop("submission_key")
    email = answers.pop("notify_email", None)
    for ignored in ("leave_empty", "csrf_token"):
        answers.pop(ignored, None)
    if answers.get("date") is not None:
        answers["date"] = answers["date"].isoformat()
    code, secret = _reply_code(key), _new_secret()
    existing = db.session.scalar(select(FormSubmission).where(FormSubmission.submission_key == key))
    if existing is not None:
        return _resent(existing, answers, code)
    client = intake.new_client()
    # The first message only opens the conversation; answers and codes are stored with it below.
    posted = intake.open_conversation(
        service,
        "form",
        client,
        f"form-{key}"[:64],
        render_answers(service.form, answers),
        language=language,
    )
    if not posted.created:
        return _resent(_submission_of(posted.conversation), answers, code)
    submission = FormSubmission(
        conversation_id=posted.conversation.id,
        submission_key=key,
        code_hash=reply_code_hash(code),
        secret_hash=hasher.hash(secret),
        answers=answers,
        notify_email=seal(email) if email else None,
    )
    db.session.add(submission)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(
            select(FormSubmission).where(FormSubmission.submission_key == key)
        )
        if existing is None:
            raise
        return _resent(existing, answers, code)
    return Receipt(posted.conversation, group(code), group(secret), True)


def _submission_of(conversation: Conversation) -> FormSubmission:
    return db.session.scalar(
        select(FormSubmission).where(FormSubmission.conversation_id == conversation.id)
    )


def _resent(existing: FormSubmission, answers: dict, code: str) -> Receipt:
    # Only a quick resend of the very same answers shows a way back again: an old page found in
    # a browser's history must not reveal someone's way back into their conversation.
    recent = utcnow() - existing.created_at < DUPLICATE_WINDOW
    if existing.answers != answers or not recent:
        raise AlreadySent()
    # The secret shown before cannot be shown again: the sender gets a new one, which replaces it.
    secret = _new_secret()
    existing.secret_hash = hasher.hash(secret)
    db.session.commit()
    return Receipt(existing.conversation, group(code), group(secret), False)


def find(code: str, secret: str) -> FormSubmission:
    """The submission behind a code and secret; one refusal for every way of being wrong."""
    submission = db.session.scalar(
        select(FormSubmission).where(FormSubmission.code_hash == reply_code_hash(normalise(code)))
    )
    stored_hash = submission.secret_hash if submission else _dummy_hash()
    try:
        hasher.verify(stored_hash, normalise(secret))
    except (VerificationError, InvalidHashError):
        raise UnknownReply() from None
    if submission is None:
        raise UnknownReply()
    return submission


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the code is unknown: equal work whether or not the code exists."""
    return hasher.hash("not-a-secret")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="form-reply-access")


def access_token(submission: FormSubmission) -> str:
    """A signed, short-lived pass to keep writing without re-entering code and secret."""
    return _serializer().dumps(submission.id)


def by_access(token: str) -> FormSubmission:
    """The submission a pass was issued for, while the pass is valid."""
    try:
        submission_id = _serializer().loads(
            token, max_age=current_app.config["REPLY_SESSION_SECONDS"]
        )
    except BadSignature:
        raise UnknownReply() from None
    submission = db.session.get(FormSubmission, submission_id)
    if submission is None:
        raise UnknownReply()
    return submission


def thread(submission: FormSubmission) -> list[Message]:
    """What the sender sees after their form: their messages and the answers, no notes or events.

    Reading it marks the answers as read for the counsellor.
    """
    # seq 1 is the form itself, which the page shows from the answers in the reader's language.
    shown = summaries.messages_after(submission.conversation, 1, include_notes=False)
    texts = [m for m in shown if m.kind == "text"]
    answered = [m.seq for m in texts if m.sender == "counsellor"]
    if answered:
        receipts.visitor_read(submission.conversation.id, max(answered))
    return texts


def write_back(submission: FormSubmission, client_msg_id: str, body: str) -> None:
    """The sender writes again in their conversation (stored once per client_msg_id)."""
    messages.post_sender_message(submission.conversation_id, client_msg_id, body)


def export(conversation_id: int, user: StaffUser) -> str:
    """An anonymised report to forward: the answers and the sender's own words, nothing else."""
    conversation = conversation_by_id(conversation_id)
    require(user, "export", conversation)
    submission = _submission_of(conversation)
    if submission is None:
        raise NotFound("Only a contact form can be exported.")
    own_words = [
        m.body
        for m in summaries.messages_after(conversation, 1, include_notes=False)
        if m.kind == "text" and m.sender == "visitor"
    ]
    lines = [
        f"Anonymised report: {conversation.service.name}",
        f"Received: {conversation.created_at:%Y-%m-%d}",
        "",
        render_answers(conversation.service.form, submission.answers),
    ]
    if own_words:
        lines += ["", "Later messages of the sender:"]
        lines += [f"- {body}" for body in own_words]
    messages.record_export(conversation, user)
    return "\n".join(lines) + "\n"


# --- reactions to the inbox -------------------------------------------------------------------


@signals.closing.connect
def erase_email(conversation: Conversation) -> None:
    """Once a conversation is closed, the address it could notify is no longer needed."""
    if conversation.channel != "form":
        return
    submission = _submission_of(conversation)
    if submission is not None:
        submission.notify_email = None


@signals.summarising.connect
def age_bands(conversations: list[Conversation]) -> dict[int, dict]:
    """The age band a form's sender chose, for the visitor's label on the inbox row."""
    ids = [c.id for c in conversations if c.channel == "form"]
    if not ids:
        return {}
    answered = db.session.execute(
        select(FormSubmission.conversation_id, FormSubmission.answers).where(
            FormSubmission.conversation_id.in_(ids)
        )
    )
    return {
        conversation_id: {"age_band": AGE_SHORT[answers["age_band"]]}
        for conversation_id, answers in answered
        if answers.get("age_band") in AGE_SHORT
    }


@signals.message_posted.connect
def notify_sender(conversation: Conversation, message: Message) -> None:
    """Tell a form's sender that there is an answer, by e-mail if they left an address.

    The mail never holds the answer or the code: only that there is something to read.
    """
    if conversation.channel != "form" or message.sender != "counsellor" or message.kind != "text":
        return
    submission = _submission_of(conversation)
    if submission is None or not submission.notify_email:
        return
    address = unseal(submission.notify_email)
    if address is None:
        return
    app = current_app._get_current_object()
    service_name = conversation.service.name
    threading.Thread(target=_send_notice, args=(app, address, service_name), daemon=True).start()


def _send_notice(app: Flask, address: str, service_name: str) -> None:
    with app.app_context(), force_locale("nl"):
        try:
            send_mail(
                address,
                _("There is an answer from %(service)s", service=service_name),
                _(
                    "There is an answer to what you sent to %(service)s.\n\n"
                    "Read it at %(url)s with your code and secret.\n",
                    service=service_name,
                    url=app.config["PUBLIC_URL"] + "/form/reply",
                ),
            )
        except Exception:
            # Not its text: a refused recipient is named in it.
            log_unexpected(app.logger, "could not send the answer notice")
