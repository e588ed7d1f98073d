"""Yearly report benchmark: a year of 300,000 contact moments in PostgreSQL, then the report.

Generates a realistic year (three services; chat, form and phone; about 70% of people with one
contact; callbacks; one or two categories per contact; follow-up bookings with reschedules;
survey answers), loads it with COPY, and times, as the median of `--runs` runs:

- the baseline: one `SELECT count(*)` over the year's contact moments (the least any report
  must do), measured in the same run on the same data;
- figures.report() for all services and for each service;
- the whole rendered page GET /reports?year=... through the Flask test client as a supervisor.

The app uses PostgreSQL database `helpline_bench_report` on 127.0.0.1 (created if missing; its
schema is dropped and rebuilt by `flask db upgrade` on every run; with --reuse the data stays and
`flask db upgrade` only brings the schema up to date, its migrations filling any new columns).

    .venv/bin/python bench/report.py                  # generate, then measure
    .venv/bin/python bench/report.py --reuse          # measure the data already there

Target: the rendered yearly report in under 1 s. The exit status is 0 either way: this is a
report, not a test.
"""

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from tests.servers import flask_command  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://127.0.0.1:5432/helpline_bench_report"
TARGET_SECONDS = 1.0
ZONE = ZoneInfo("Europe/Amsterdam")

# service slug: (share of contacts, {channel: share}, categories offered)
SERVICES = {
    "helpwanted": (
        0.6,
        {"chat": 0.55, "form": 0.35, "phone": 0.10},
        [
            "sextortion",
            "sexting",
            "concern_other",
            "professional",
            "general_information",
            "not_serious",
        ],
    ),
    "stopitnow": (
        0.3,
        {"phone": 0.6, "chat": 0.3, "form": 0.1},
        ["concern_self", "concern_other", "professional", "general_information", "not_serious"],
    ),
    "report": (0.1, {"form": 1.0}, ["concern_other", "general_information", "not_serious"]),
}
# Contacts per person: about 70% of people get in touch once.
CONTACTS_PER_PERSON = [(1, 0.70), (2, 0.17), (3, 0.07), (4, 0.03), (6, 0.02), (12, 0.01)]
# Local hour of day of contacts: mostly office hours, some evenings, little at night.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 14, 15, 16, 15, 13, 10, 7, 7, 6, 5, 3, 2]


def sync_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def reset_database(url: str) -> None:
    """Create the benchmark database if needed and give it an empty schema."""
    name = urlsplit(url).path.lstrip("/")
    if not name or "bench" not in name:
        raise SystemExit("use a benchmark database of its own (its name must contain 'bench')")
    admin = psycopg.conninfo.make_conninfo(sync_url(url), dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(sync_url(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _copy(conn, table: str, columns: list[str], rows) -> int:
    count = 0
    with conn.cursor().copy(
        sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
    ) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def generate(url: str, year: int, moments: int, seed: int) -> dict:
    """Fill the database with about `moments` contact moments in `year`; returns counts."""
    rng = random.Random(seed)
    with psycopg.connect(sync_url(url)) as conn:
        services = dict(conn.execute("SELECT slug, id FROM service"))
        categories = dict(conn.execute("SELECT slug, id FROM category"))
        therapist = conn.execute("SELECT id FROM staff_user WHERE role = 'therapist'").fetchone()[0]
        first_day = datetime(year, 1, 1)
        days = (datetime(year + 1, 1, 1) - first_day).days

        def moment_in_year() -> datetime:
            day = first_day + timedelta(days=rng.randrange(days))
            # Fewer contacts at weekends.
            if day.weekday() >= 5 and rng.random() < 0.5:
                day += timedelta(days=rng.choice((-2, 2)))
                day = min(max(day, first_day), first_day + timedelta(days=days - 1))
            hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
            local = day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
            return local.replace(tzinfo=ZONE).astimezone(UTC).replace(tzinfo=None)

        conversations, moment_rows, category_rows, bookings, answers = [], [], [], [], []
        clients = 0
        conversation_id = 0
        counts, weights = zip(*CONTACTS_PER_PERSON, strict=True)
        slugs = list(SERVICES)
        while len(moment_rows) < moments:
            clients += 1
            slug = rng.choices(slugs, [SERVICES[s][0] for s in slugs])[0]
            _, channels, offered = SERVICES[slug]
            for _ in range(rng.choices(counts, weights)[0]):
                conversation_id += 1
                channel = rng.choices(list(channels), list(channels.values()))[0]
                created = moment_in_year()
                abandoned = channel != "form" and rng.random() < 0.08
                waited = None if abandoned or channel == "form" else rng.expovariate(1 / 90)
                if channel == "form":
                    answered = rng.expovariate(1 / 20000)
                elif waited is not None and channel == "chat":
                    answered = waited + rng.uniform(5, 60)
                else:
                    answered = None
                # Report-form senders and a few others leave no way to recognise them.
                client = None if slug == "report" or rng.random() < 0.05 else clients
                # The copies of the conversation that moments and categories carry.
                copies = (services[slug], channel, -conversation_id if client is None else client)
                conversations.append(
                    (
                        conversation_id,
                        secrets.token_hex(32),  # as the keyed hash of a token looks
                        services[slug],
                        channel,
                        "closed",
                        client,
                        created,
                        created,
                        None if waited is None else created + timedelta(seconds=waited),
                        None if answered is None else created + timedelta(seconds=answered),
                        created + timedelta(minutes=20),
                        abandoned,
                        0,
                        0,
                        0,
                    )
                )
                moment_rows.append((conversation_id, "inbound", created, *copies))
                if channel == "phone" and rng.random() < 0.35:
                    for n in range(rng.choice((1, 1, 1, 2))):
                        moment_rows.append(
                            (
                                conversation_id,
                                "callback",
                                created + timedelta(days=n + 1, hours=rng.random()),
                                *copies,
                            )
                        )
                if not abandoned:
                    for category in rng.sample(offered, rng.choice((1, 1, 1, 2))):
                        category_rows.append(
                            (conversation_id, categories[category], created, *copies[::2])
                        )
                if slug == "stopitnow" and not abandoned and rng.random() < 0.12:
                    bookings.append((conversation_id, clients, created))
                if not abandoned and rng.random() < 0.06:
                    answers.append(
                        (
                            conversation_id,
                            services[slug],
                            channel,
                            *(
                                rng.choices((True, False, None), (0.75, 0.18, 0.07))[0]
                                for _ in range(3)
                            ),
                            created + timedelta(hours=1),
                        )
                    )
        year_end = datetime(year + 1, 1, 1)
        # Callbacks after New Year's Eve belong to the next year; that is realistic, keep them.
        with conn.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")  # skip FK checks while loading
        _copy(conn, "client", ["id", "created_at"], ((i, first_day) for i in range(1, clients + 1)))
        _copy(
            conn,
            "conversation",
            [
                "id",
                "token_hash",
                "service_id",
                "channel",
                "state",
                "client_id",
                "created_at",
                "waiting_since",
                "assigned_at",
                "first_response_at",
                "closed_at",
                "abandoned",
                "last_seq",
                "visitor_read_seq",
                "staff_read_seq",
            ],
            conversations,
        )
        _copy(
            conn,
            "contact_moment",
            ["conversation_id", "kind", "started_at", "service_id", "channel", "person"],
            moment_rows,
        )
        _copy(
            conn,
            "conversation_category",
            ["conversation_id", "category_id", "opened_at", "service_id", "person"],
            category_rows,
        )
        booking_rows = []
        slot = datetime(year, 1, 1, 8)
        booking_id = 0
        for conversation, client, created in bookings:
            roll = rng.random()
            status = (
                "held"
                if roll < 0.45
                else "referred"
                if roll < 0.65
                else "no_show"
                if roll < 0.8
                else "cancelled"
                if roll < 0.9
                else "booked"
            )
            moved = rng.random() < 0.15
            chain = ["rescheduled", status] if moved else [status]
            previous = None
            for step in chain:
                booking_id += 1
                slot += timedelta(hours=1)
                booking_rows.append(
                    (
                        booking_id,
                        therapist,
                        conversation,
                        client,
                        slot,
                        slot + timedelta(minutes=45),
                        "phone",
                        step,
                        False,
                        created + timedelta(hours=1, minutes=len(booking_rows) % 50),
                        previous,
                    )
                )
                previous = booking_id
        _copy(
            conn,
            "booking",
            [
                "id",
                "therapist_id",
                "conversation_id",
                "client_id",
                "starts_at",
                "ends_at",
                "method",
                "status",
                "transcript_shared",
                "booked_at",
                "rescheduled_from_id",
            ],
            booking_rows,
        )
        _copy(
            conn,
            "survey_answer",
            [
                "conversation_id",
                "service_id",
                "channel",
                "satisfied",
                "felt_better",
                "would_recommend",
                "answered_at",
            ],
            answers,
        )
        for table in ("client", "conversation", "booking"):
            conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), (SELECT max(id) FROM {i}))"
                ).format(t=sql.Literal(table), i=sql.Identifier(table))
            )
        conn.commit()
    with psycopg.connect(sync_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    in_year = sum(1 for _, _, started, *_ in moment_rows if started < year_end)
    return {
        "people": clients,
        "conversations": len(conversations),
        "contact moments": len(moment_rows),
        "contact moments in the year": in_year,
        "categories": len(category_rows),
        "bookings": len(booking_rows),
        "survey answers": len(answers),
    }


def median_time(action, runs: int) -> float:
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def measure(url: str, year: int, runs: int) -> dict:
    from sqlalchemy import func, select

    from helpline import create_app
    from helpline.auth.models import StaffUser
    from helpline.extensions import db
    from helpline.inbox.models import ContactMoment, Service
    from helpline.reports import figures

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://"}
    )
    results = {}
    with app.app_context():
        period = figures.Period.year(year)

        def baseline():
            db.session.scalar(
                select(func.count())
                .select_from(ContactMoment)
                .where(
                    ContactMoment.started_at >= period.start, ContactMoment.started_at < period.end
                )
            )
            db.session.rollback()

        def report(slug=None):
            figures.report(period, slug)
            db.session.rollback()

        baseline()  # warm the cache once, for all measurements alike
        results["baseline: SELECT count(*) of the year's contact moments"] = median_time(
            baseline, runs
        )
        results["figures.report, all services"] = median_time(report, runs)
        for slug in db.session.scalars(select(Service.slug).order_by(Service.id)):
            results[f"figures.report, {slug}"] = median_time(lambda s=slug: report(s), runs)
        supervisor = db.session.scalar(select(StaffUser).where(StaffUser.role == "supervisor"))
        user_id = supervisor.get_id()
        db.session.rollback()
    http = app.test_client()
    with http.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True

    def page(query: str):
        response = http.get(f"/reports?{query}")
        assert response.status_code == 200, response.status_code

    results["rendered page /reports, all services"] = median_time(
        lambda: page(f"year={year}"), runs
    )
    results["rendered page /reports, stopitnow"] = median_time(
        lambda: page(f"year={year}&service=stopitnow"), runs
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_REPORT_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--moments", type=int, default=300_000, help="contact moments to generate")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--reuse", action="store_true", help="keep the data of an earlier run")
    args = parser.parse_args()
    if urlsplit(args.database_url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("the benchmark database must be on 127.0.0.1")
    env = {"DATABASE_URL": args.database_url, "SECRET_KEY": "bench", "REDIS_URL": ""}
    if args.reuse:
        flask_command(["db", "upgrade"], env)
    else:
        started = time.perf_counter()
        reset_database(args.database_url)
        flask_command(["db", "upgrade"], env)
        flask_command(["seed", "--demo"], env)
        counts = generate(args.database_url, args.year, args.moments, args.seed)
        print(f"generated in {time.perf_counter() - started:.1f}s:")
        for name, count in counts.items():
            print(f"  {name:>28}: {count:,}")
    results = measure(args.database_url, args.year, args.runs)
    baseline = next(iter(results.values()))
    print(f"\nyear {args.year}, median of {args.runs} runs:")
    for name, seconds in results.items():
        print(f"  {name:<58} {seconds * 1000:8.1f} ms  {seconds / baseline:6.1f}x baseline")
    page = results["rendered page /reports, all services"]
    verdict = "met" if page < TARGET_SECONDS else "MISSED"
    print(
        f"\ntarget: rendered yearly report < {TARGET_SECONDS:g} s: {page * 1000:.0f} ms ({verdict})"
    )


if __name__ == "__main__":
    main()
