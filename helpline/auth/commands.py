"""`flask staff create|password|deactivate|reset-2fa`: staff accounts from the command line."""

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from helpline.auth import service as accounts
from helpline.auth.models import ROLES, StaffUser
from helpline.auth.passwords import PasswordRefused
from helpline.auth.passwords import check as check_password
from helpline.extensions import db

staff = AppGroup("staff", help="Staff accounts.")


def create_staff(email: str, name: str, role: str, password: str, max_chats: int | None = None):
    """Create a staff account, or return the existing one with that e-mail address; the
    password must meet the policy (PasswordRefused)."""
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None:
        check_password(password)
        user = StaffUser(
            email=email,
            display_name=name,
            role=role,
            max_chats=max_chats or current_app.config["DEFAULT_MAX_CHATS"],
        )
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
    return user


def staff_member(email: str) -> StaffUser:
    """The staff account with this address, or a usage error."""
    user = accounts.staff_by_email(email)
    if user is None:
        raise click.BadParameter(f"no staff account {email!r}")
    return user


@staff.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="counsellor")
@click.option("--max-chats", type=int, default=None)
@click.password_option()
def staff_create(email, name, role, max_chats, password) -> None:
    """Create a staff account; it sets up two-factor sign-in when it first signs in."""
    try:
        user = create_staff(email, name, role, password, max_chats)
    except PasswordRefused as refused:
        raise click.BadParameter(str(refused), param_hint="password") from refused
    click.echo(f"{user.email} ({user.role})")


@staff.command("password")
@click.argument("email")
@click.password_option("--password", prompt="New password")
def staff_password(email: str, password: str) -> None:
    """Give a staff account a new password; every session of theirs ends."""
    try:
        accounts.set_password(staff_member(email), password)
    except accounts.AccountError as refused:
        raise click.BadParameter(str(refused), param_hint="password") from refused
    click.echo(f"{email}: new password set, signed out everywhere")


@staff.command("deactivate")
@click.argument("email")
def staff_deactivate(email: str) -> None:
    """Close a staff account: it cannot sign in, and every session of theirs ends."""
    accounts.deactivate(staff_member(email))
    click.echo(f"{email}: deactivated, signed out everywhere")


@staff.command("reset-2fa")
@click.argument("email")
def staff_reset_two_factor(email: str) -> None:
    """Make a staff member set up two-factor sign-in again (a lost phone); every session of
    theirs ends."""
    accounts.reset_two_factor(staff_member(email))
    click.echo(f"{email}: sets up two-factor sign-in at the next sign-in")
