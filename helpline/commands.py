"""Command-line tasks: `flask seed`, `flask staff phone` (the account commands are in
auth/commands.py), `flask service hours|phone|phone-survey|retention|queue-limit`,
`flask phone simulate|answer-callbacks`."""

import re
from datetime import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from helpline.auth import two_factor
from helpline.auth.commands import create_staff, staff
from helpline.auth.models import StaffUser
from helpline.canned import demo as canned_demo
from helpline.extensions import db
from helpline.inbox import categories, hours
from helpline.inbox.models import Service
from helpline.phone import simulator
from helpline.timeutil import utcnow

# slug, name, chat opening hours, chat offered, contact form
SERVICES = [
    ("helpwanted", "Helpwanted", "mon-fri 09:00-17:00", True, "helpwanted"),
    ("stopitnow", "Stop it Now!", "mon-fri 09:00-17:00", True, "stopitnow"),
    ("report", "Meldpunt kindersekstoerisme", "never", False, "report"),
]
# e-mail, name, role, password, TOTP secret: public on purpose, listed in README.
DEMO_STAFF = [
    (
        "counsellor@example.org",
        "Anna",
        "counsellor",
        "demo-counsellor",
        "DEMOCOUNSELLORDEMOCOUNSELLORDEMO",
    ),
    (
        "supervisor@example.org",
        "Sam",
        "supervisor",
        "demo-supervisor",
        "DEMOSUPERVISORDEMOSUPERVISORDEMO",
    ),
    (
        "therapist@example.org",
        "Eva",
        "therapist",
        "demo-therapist",
        "DEMOTHERAPISTDEMOTHERAPISTDEMOTH",
    ),
    ("admin@example.org", "Ali", "admin", "demo-administrator", "DEMOADMINISTRATORDEMOADMINISTRAT"),
]
# The demo therapist's weekly sessions: weekday (0 = Monday), start, end, minutes per session.
DEMO_AVAILABILITY = [
    (0, "10:00", "12:00", 45),
    (2, "13:00", "16:00", 45),
    (3, "18:00", "20:00", 60),
]
# Fictitious numbers for trying the phone line with `flask phone simulate`.
DEMO_PHONE_NUMBERS = {"stopitnow": "+31800000001", "helpwanted": "+31800000002"}
DEMO_PHONE_ENDPOINTS = {
    "counsellor@example.org": "+31600000001",
    "therapist@example.org": "+31600000002",
}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def seed_services() -> None:
    """Create the services that do not exist yet."""
    for slug, name, opening, chat, form in SERVICES:
        if db.session.scalar(select(Service).where(Service.slug == slug)) is None:
            db.session.add(
                Service(slug=slug, name=name, opening_hours=opening, chat_enabled=chat, form=form)
            )
    db.session.commit()
    categories.seed()


def seed_demo_two_factor(user: StaffUser, secret: str) -> None:
    """Enrol a demo account with its fixed TOTP secret, once."""
    if user.two_factor_enrolled_at is None:
        two_factor.store_secret(user, secret)
        user.two_factor_enrolled_at = utcnow()


def seed_demo_availability() -> None:
    """Give the demo therapist weekly sessions, once."""
    from helpline.followup import therapists
    from helpline.followup.models import AvailabilityRule

    therapist = db.session.scalar(
        select(StaffUser).where(StaffUser.email == "therapist@example.org")
    )
    if therapist is None or db.session.scalar(
        select(AvailabilityRule.id).where(AvailabilityRule.therapist_id == therapist.id)
    ):
        return
    for weekday, starts, ends, minutes in DEMO_AVAILABILITY:
        therapists.add_rule(
            therapist,
            therapist.id,
            weekday,
            time.fromisoformat(starts),
            time.fromisoformat(ends),
            minutes,
        )


@click.command("phone")
@click.argument("email")
@click.argument("endpoint", required=False)
def staff_phone(email: str, endpoint: str | None) -> None:
    """Where accepted calls are put through: +31612345678, client:<name>, or empty to clear."""
    if endpoint and not (E164.match(endpoint) or re.match(r"^client:[\w.-]{1,60}$", endpoint)):
        raise click.BadParameter("write a number as +31612345678, or client:<name>")
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None:
        raise click.BadParameter(f"no staff account {email!r}")
    user.phone_endpoint = endpoint or None
    if not endpoint:
        user.takes_calls = False
    db.session.commit()
    click.echo(f"{user.email}: {endpoint or 'no phone'}")


def _service(slug: str) -> Service:
    """The service a command names, or a usage error."""
    service = db.session.scalar(select(Service).where(Service.slug == slug))
    if service is None:
        raise click.BadParameter(f"no service {slug!r}")
    return service


@click.command("seed")
@click.option("--demo", is_flag=True, help="Also create the demo staff accounts.")
@with_appcontext
def seed(demo: bool) -> None:
    """Create the services (and demo accounts); safe to run again."""
    if demo and current_app.config["HELPLINE_ENV"] == "production":
        # Their passwords and TOTP secrets are public: in README.
        raise click.ClickException("Demo accounts are not created in production.")
    seed_services()
    click.echo("Services: " + ", ".join(slug for slug, *_ in SERVICES))
    if demo:
        seed_demo()


def seed_demo() -> None:
    """Create the demo staff accounts, phone numbers, therapist sessions and canned responses
    that are missing."""
    for email, name, role, password, secret in DEMO_STAFF:
        user = create_staff(email, name, role, password)
        user.phone_endpoint = user.phone_endpoint or DEMO_PHONE_ENDPOINTS.get(email)
        seed_demo_two_factor(user, secret)
        click.echo(f"Demo {role}: {email} / {password} (TOTP secret {secret})")
    for slug, number in DEMO_PHONE_NUMBERS.items():
        service = db.session.scalar(select(Service).where(Service.slug == slug))
        taken = db.session.scalar(select(Service).where(Service.phone_number == number))
        if service.phone_number is None and taken is None:
            service.phone_number = number
    db.session.commit()
    seed_demo_availability()
    canned_demo.seed()


service_group = AppGroup("service", help="Services.")


@service_group.command("hours")
@click.argument("slug")
@click.argument("spec")
def service_hours(slug: str, spec: str) -> None:
    """Set opening hours, e.g. 'mon-fri 09:00-17:00', 'always' or 'never'."""
    try:
        hours.parse(spec)
    except hours.InvalidHours as error:
        raise click.BadParameter(str(error)) from error
    _set(slug, spec, opening_hours=spec)


@service_group.command("phone")
@click.argument("slug")
@click.argument("number", required=False)
def service_phone(slug: str, number: str | None) -> None:
    """Set the Twilio number of a service (+3180...), or clear it."""
    if number and not E164.match(number):
        raise click.BadParameter("write the number in E.164, e.g. +318001234567")
    service = _service(slug)
    owner = db.session.scalar(select(Service).where(Service.phone_number == number))
    if number and owner is not None and owner.id != service.id:
        raise click.BadParameter(f"{number} belongs to {owner.slug}")
    service.phone_number = number or None
    db.session.commit()
    click.echo(f"{service.name}: {number or 'no phone line'}")


@service_group.command("retention")
@click.argument("slug")
@click.argument("days", type=click.IntRange(min=1))
def service_retention(slug: str, days: int) -> None:
    """Purge what was said in a service's conversations this many days after closing."""
    _set(slug, f"what was said is purged {days} days after closing", retention_days=days)


@service_group.command("phone-survey")
@click.argument("slug")
@click.argument("switch", type=click.Choice(["on", "off"]))
def service_phone_survey(slug: str, switch: str) -> None:
    """Offer callers the keypad survey after a call (on), or not (off)."""
    _set(slug, f"keypad survey after calls {switch}", phone_survey=switch == "on")


@service_group.command("queue-limit")
@click.argument("slug")
@click.argument("places", type=click.IntRange(min=1))
def service_queue_limit(slug: str, places: int) -> None:
    """Set how many chats may wait; past that, new visitors are offered the form."""
    _set(slug, f"at most {places} waiting chats", chat_queue_limit=places)


def _set(slug: str, said: str, **values) -> None:
    """Change a setting of the service `slug`, and say what it is now."""
    service = _service(slug)
    for name, value in values.items():
        setattr(service, name, value)
    db.session.commit()
    click.echo(f"{service.name}: {said}")


phone_line = AppGroup("phone", help="The phone line.")


def _simulated_twilio(url: str) -> simulator.Twilio:
    """The simulator's Twilio, or a usage error when a real account is configured."""
    if not current_app.config["PHONE_SIMULATED"]:
        raise click.ClickException(
            "A Twilio account is configured: the simulator runs only without one."
        )
    return simulator.twilio_for(current_app.config, url)


@phone_line.command("simulate")
@click.option(
    "--service",
    "slug",
    default="stopitnow",
    show_default=True,
    help="The service whose number is called.",
)
@click.option("--to", help="The number called, instead of the service's.")
@click.option("--from", "caller", help="The caller's number  [default: a random +316 one]")
@click.option("--withheld", is_flag=True, help="Call with a withheld number.")
@click.option(
    "--choice",
    type=click.Choice(list(simulator.CHOICES)),
    default="voicemail",
    show_default=True,
    help="What the caller presses at the menu.",
)
@click.option(
    "--hang-up-after",
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="Hang up after waiting this long in the queue.",
)
@click.option(
    "--talk",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="SECONDS",
    help="How long the call lasts once put through.",
)
@click.option(
    "--message",
    "message_seconds",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    metavar="SECONDS",
    help="Length of a voicemail.",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Seconds between wait requests  [default: as long as the wait music]",
)
@click.option("--url", default=simulator.DEFAULT_URL, show_default=True, help="The running server.")
def phone_simulate(
    slug, to, caller, withheld, choice, hang_up_after, talk, message_seconds, poll, url
) -> None:
    """Play an incoming call against a running server, signed as Twilio signs it."""
    twilio = _simulated_twilio(url)
    if to is None:
        to = simulator.service_numbers().get(slug)
        if to is None:
            raise click.BadParameter(
                f"{slug!r} has no phone number (flask seed --demo, or flask service phone)",
                param_hint="--service",
            )
    call = simulator.SimulatedCall(
        twilio,
        to,
        simulator.WITHHELD if withheld else caller,
        choice=choice,
        talk=talk,
        hang_up_after=hang_up_after,
        message_seconds=message_seconds,
        poll=poll,
        tell=click.echo,
    )
    try:
        outcome = call.play()
    except simulator.SimulationFailed as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Outcome: {outcome}.")


@phone_line.command("answer-callbacks")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    metavar="N",
    help="Stop after this many callbacks  [default: wait until Ctrl-C]",
)
@click.option(
    "--talk",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="SECONDS",
    help="How long the caller talks once they answer.",
)
@click.option("--no-answer", is_flag=True, help="The caller does not answer.")
@click.option(
    "--give-up-after",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="Stop waiting for callbacks after this long.",
)
@click.option("--url", default=simulator.DEFAULT_URL, show_default=True, help="The running server.")
def phone_answer_callbacks(count, talk, no_answer, give_up_after, url) -> None:
    """Play the callbacks counsellors start in the inbox: their phone, then the caller's."""
    callbacks = simulator.SimulatedCallbacks(
        _simulated_twilio(url),
        talk=talk,
        answered=not no_answer,
        count=count,
        give_up_after=give_up_after,
        tell=click.echo,
    )
    try:
        outcome = callbacks.play()
    except simulator.SimulationFailed as error:
        raise click.ClickException(str(error)) from error
    except KeyboardInterrupt:
        outcome = f"stopped after {callbacks.played} callback(s)"
    click.echo(f"Outcome: {outcome}.")


def register(app: Flask) -> None:
    """Add the seed, service and phone commands, and `flask staff phone`, to the app's CLI."""
    staff.add_command(staff_phone)
    for command in (seed, staff, service_group, phone_line):
        app.cli.add_command(command)
