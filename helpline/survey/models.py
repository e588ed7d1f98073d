"""Survey answers: linked to their conversation, shown with it only to supervisors."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpline.extensions import db
from helpline.timeutil import utcnow

QUESTIONS = ("satisfied", "felt_better", "would_recommend")


class SurveyAnswer(db.Model):
    """One person's answers after one conversation; each question may be left unanswered."""

    __tablename__ = "survey_answer"
    __table_args__ = (CheckConstraint("channel IN ('chat', 'form', 'phone')", name="channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # One answer per conversation: a second send replaces nothing.
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    satisfied: Mapped[bool | None] = mapped_column()
    felt_better: Mapped[bool | None] = mapped_column()
    would_recommend: Mapped[bool | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
