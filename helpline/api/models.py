"""Personal API tokens of staff: stored as a keyed hash, scoped by role, revocable."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.timeutil import utcnow


class ApiToken(db.Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # The first characters, to recognise a token in a list; the rest exists only as a hash.
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[StaffUser] = relationship()
