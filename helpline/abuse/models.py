"""Blocks of visitors who abuse the helpline, known only by their anonymous client."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.models import Conversation
from helpline.timeutil import utcnow


class VisitorBlock(db.Model):
    """A visitor kept out until `until`: their client (a keyed hash of their browser or number),
    never their address, which only Redis holds for the block's time."""

    __tablename__ = "visitor_block"
    __table_args__ = (
        CheckConstraint("until > created_at", name="ends_after_start"),
        CheckConstraint("length(reason) > 0", name="has_reason"),
        Index("ix_visitor_block_client_until", "client_id", "until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"))
    blocked_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    until: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(String(300))
    lifted_at: Mapped[datetime | None] = mapped_column()
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    conversation: Mapped[Conversation] = relationship()
    blocked_by: Mapped[StaffUser] = relationship(foreign_keys=[blocked_by_id])
    lifted_by: Mapped[StaffUser | None] = relationship(foreign_keys=[lifted_by_id])
