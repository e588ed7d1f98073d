"""A canned response: a service's ready text, in Dutch or English, found by its shortcut."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpline.extensions import db
from helpline.inbox.models import Service
from helpline.timeutil import utcnow

LANGUAGES = ("nl", "en")


class CannedResponse(db.Model):
    """One version (Dutch or English) of a service's ready answer, e.g. its `welcome`."""

    __tablename__ = "canned_response"
    __table_args__ = (
        # One version per language: `welcome` may have a Dutch and an English text.
        UniqueConstraint("service_id", "shortcut", "language", name="uq_canned_response_shortcut"),
        CheckConstraint("language IN ('nl', 'en')", name="language"),
        CheckConstraint("length(shortcut) > 0", name="has_shortcut"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    shortcut: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(2))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    service: Mapped[Service] = relationship()
