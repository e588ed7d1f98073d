"""`flask retention purge`: purge now, instead of waiting for the servers' schedule."""

import click
from flask import Flask

from helpline.retention import service


def register(app: Flask) -> None:
    group = click.Group("retention", help="What is kept, and for how long.")
    app.cli.add_command(group)

    @group.command("purge")
    def purge() -> None:
        """Purge what was said in conversations closed longer ago than their service keeps it."""
        for purged in service.purge():
            counts = ", ".join(f"{name} {count}" for name, count in purged.counts().items())
            click.echo(f"{purged.service} (after {purged.days} days): {counts}")
