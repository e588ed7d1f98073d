"""What a contact form keeps beside its conversation."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpline.extensions import db
from helpline.inbox.models import Conversation
from helpline.timeutil import utcnow


class FormSubmission(db.Model):
    """One sent form: its answers, and how its sender comes back anonymously."""

    __tablename__ = "form_submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), unique=True)
    # The random key of the form page: a second send of the same page finds this row.
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)
    # Keyed hash of the reply code; the secret only as an argon2 hash.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    answers: Mapped[dict] = mapped_column(JSON)
    # Encrypted; only to say "there is an answer"; erased when the conversation closes.
    notify_email: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship()
