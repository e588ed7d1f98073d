"""The second factor of staff sign-in: TOTP codes from an authenticator app, and one-time
recovery codes for when the phone is lost."""

import hmac
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, or_, update

from helpline import codes
from helpline.auth.models import RecoveryCode, StaffUser
from helpline.encryption import seal, unseal
from helpline.extensions import db
from helpline.timeutil import utcnow

ISSUER = "Helpline"
RECOVERY_CODES = 10
# A code is accepted one time step early or late, for clocks that drift and slow typists.
DRIFT_STEPS = 1


def new_secret() -> str:
    """A random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32()


def store_secret(user: StaffUser, secret: str) -> None:
    """Keep `secret` encrypted on the user (the caller commits)."""
    user.totp_secret = seal(secret)


def secret_of(user: StaffUser) -> str | None:
    """The user's TOTP secret in base32, or None when none is set."""
    return unseal(user.totp_secret) if user.totp_secret else None


def qr_code_svg(user: StaffUser, secret: str) -> str:
    """The enrolment QR code as inline SVG, drawn here: no third party sees the secret."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")


def accept_totp(user: StaffUser, code: str, now: float | None = None) -> bool:
    """True when `code` is the user's current TOTP code and no code of this or a later step
    was accepted before; the step is recorded in the same statement, so a code seen twice, or
    two requests at once, get in once."""
    secret = secret_of(user)
    if secret is None or not (len(code) == 6 and code.isdigit()):
        return False
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = totp.timecode(now)
    matching = [
        current + offset
        for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1)
        if hmac.compare_digest(totp.at(now, counter_offset=offset), code)
    ]
    if not matching:
        return False
    step = matching[0]
    recorded = db.session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return recorded.rowcount == 1


def new_recovery_codes(user: StaffUser) -> list[str]:
    """Replace the user's recovery codes with ten new ones, returned once in clear (the caller
    commits); only their keyed hashes are kept."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    fresh = [
        "".join(secrets.choice(codes.ALPHABET) for _ in range(12)) for _ in range(RECOVERY_CODES)
    ]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in fresh)
    return [codes.group(code) for code in fresh]


def use_recovery_code(user: StaffUser, typed: str) -> bool:
    """True when `typed` is one of the user's unused recovery codes, which is then used up."""
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(codes.normalise(typed)),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return used.rowcount == 1


def forget(user: StaffUser) -> None:
    """Remove the user's second factor, so their next sign-in enrols again (the caller
    commits)."""
    user.totp_secret = None
    user.two_factor_enrolled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _hash(code: str) -> str:
    return codes.keyed_hash("staff-recovery-code", code)
