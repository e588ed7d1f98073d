"""Pages of the follow-up sessions: booking, the therapist's agenda and availability, ICS feed."""

from flask import Blueprint

from helpline.followup import models  # noqa: F401  (tables known to migrations)

bp = Blueprint("followup", __name__, url_prefix="/followup")
