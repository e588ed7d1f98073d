"""`flask api token create|revoke`: personal API tokens from the command line."""

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from helpline.api import service as api
from helpline.api.models import ApiToken
from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.errors import InboxError

token = AppGroup("token", help="Personal API tokens of staff.")


def _staff(email: str) -> StaffUser:
    user = db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email.lower()))
    if user is None:
        raise click.BadParameter(f"no staff account {email!r}", param_hint="--email")
    return user


@token.command("create")
@click.option("--email", required=True, help="The staff account the token acts as.")
@click.option("--name", required=True, help="What the token is for, e.g. 'monthly export'.")
def create(email: str, name: str) -> None:
    """Make a token; its value is printed once and cannot be shown again."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise click.BadParameter("give a name of 1-80 characters", param_hint="--name")
    try:
        made = api.create_token(_staff(email), name)
    except InboxError as error:
        raise click.ClickException(error.message) from error
    click.echo(made.value)
    click.echo("Keep it now: it is shown only once.", err=True)


@token.command("revoke")
@click.option("--email", required=True, help="The staff account the token belongs to.")
@click.option("--prefix", required=True, help="The 8 characters after hl_.")
def revoke(email: str, prefix: str) -> None:
    """Stop a token from working."""
    user = _staff(email)
    found = db.session.scalar(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.prefix == prefix)
    )
    if found is None:
        raise click.BadParameter(f"{email} has no token hl_{prefix}_…", param_hint="--prefix")
    api.revoke_token(user, found.id)
    click.echo(f"hl_{prefix}_… revoked")
