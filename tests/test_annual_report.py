"""The annual report, proven end to end: a year of contacts made only through the public
interfaces (visitor chat, signed Twilio webhooks, form posts, the staff socket, the staff API)
must come out of the report as exactly the numbers the plan below adds up to, on every table.

Each planned contact is played at its own local date and time (time-machine moves the clock the
app reads), and every expected figure is counted from the plan, never from the database.
"""

import csv
import io
import re
import secrets
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from tests import factories
from tests.factories import Caller

HW, SIN = "helpwanted", "stopitnow"
SERVICE_NUMBER = "+31800000001"
COUNSELLOR_PHONE = "+31600000009"
ZONE = ZoneInfo("Europe/Amsterdam")
YEAR = 2025
QUESTIONS = ("satisfied", "felt_better", "would_recommend")
CATEGORY_NAMES = {
    "sextortion": "Sextortion",
    "sexting": "Sexting",
    "concern_self": "Concern about own feelings",
    "concern_other": "Concern about another person",
    "professional": "Professional",
    "general_information": "General information",
    "not_serious": "Not serious",
}


@dataclass(frozen=True)
class Followup:
    """A session with the therapist, booked in wrap-up; `moved_to` is where it was moved."""

    slot: str
    outcome: str | None  # None: still open
    moved_to: str | None = None


@dataclass(frozen=True)
class Contact:
    """One planned contact. `person` is a browser (chat), a phone number (phone), or for a form
    a sender of their own (forms know nobody again); no categories means the person gave up
    while waiting. A phone contact with a `callback` asked
    for one from the menu after waiting too long, and was called back at that local time."""

    service: str
    channel: str
    person: str
    opened: str
    categories: tuple[str, ...]
    waited: int | None = None
    callback: str | None = None
    survey: tuple[bool | None, ...] | None = None
    followup: Followup | None = None

    @property
    def abandoned(self) -> bool:
        return not self.categories

    @property
    def wait(self) -> int:
        """Seconds from opening until a counsellor takes it."""
        if self.callback:
            return int((local(self.callback) - local(self.opened)).total_seconds()) - 60
        if self.waited is not None:
            return self.waited
        return {"chat": 90, "form": 3600, "phone": 40}[self.channel]


YES, NO = True, False
PLAN = (
    # 2024, to grow from.
    Contact(HW, "chat", "ilse", "2024-05-14 14:00", ("sextortion",), survey=(YES, YES, YES)),
    Contact(
        SIN,
        "phone",
        "piet",
        "2024-06-03 10:00",
        ("concern_self",),
        followup=Followup("2024-06-10 10:00", "held"),
    ),
    Contact(HW, "form", "form-2024", "2024-11-20 09:00", ("sexting",)),
    # Asked in 2024, called back and booked in 2025: the callback and the session are 2025's.
    Contact(
        SIN,
        "phone",
        "kees",
        "2024-12-30 16:30",
        ("concern_other",),
        callback="2025-01-02 10:00",
        followup=Followup("2025-01-06 10:00", "no_show"),
    ),
    # 22:30 UTC on New Year's Eve: 2024 either way.
    Contact(HW, "chat", "noor", "2024-12-31 23:30", ("general_information",)),
    # 2025. New Year's night at 00:30 is still 2024 in UTC, but 2025 where the helpline is.
    Contact(HW, "chat", "joep", "2025-01-01 00:30", ("general_information",)),
    Contact(HW, "chat", "ilse", "2025-01-13 10:15", ("sextortion",), survey=(YES, YES, YES)),
    Contact(
        SIN,
        "phone",
        "piet",
        "2025-01-20 10:05",
        ("concern_self",),
        followup=Followup("2025-01-27 10:00", "held"),
    ),
    Contact(HW, "chat", "mila", "2025-02-04 14:20", ("sexting",), waited=45),
    Contact(
        SIN,
        "phone",
        "ruud",
        "2025-02-11 11:30",
        ("concern_other",),
        survey=(YES, YES, YES),
        followup=Followup("2025-02-18 10:00", "no_show"),
    ),
    Contact(HW, "form", "form-1", "2025-02-14 23:40", ("sextortion",), waited=9 * 3600),
    Contact(SIN, "phone", "sara", "2025-03-03 09:15", ("professional",), survey=(YES, NO, YES)),
    Contact(
        HW, "chat", "finn", "2025-03-05 16:05", ("sextortion", "sexting"), survey=(YES, NO, YES)
    ),
    Contact(
        SIN,
        "phone",
        "piet",
        "2025-03-24 10:20",
        ("concern_self", "concern_other"),
        waited=150,
        followup=Followup("2025-03-31 10:00", "referred"),
    ),
    Contact(HW, "chat", "ilse", "2025-04-08 14:40", ("sextortion",), waited=300),
    Contact(
        SIN,
        "phone",
        "toon",
        "2025-04-15 15:45",
        ("general_information",),
        callback="2025-04-16 09:30",
        followup=Followup("2025-04-23 10:00", "referred", moved_to="2025-04-28 10:00"),
    ),
    # Dana chats with both services from the same browser: one person in the whole report.
    Contact(
        SIN,
        "chat",
        "dana",
        "2025-05-06 10:30",
        ("concern_self",),
        survey=(YES, YES, YES),
        followup=Followup("2025-05-13 10:00", None),
    ),
    Contact(HW, "chat", "dana", "2025-05-12 10:30", ("concern_other",), survey=(NO, None, YES)),
    # Vera answers the first keypad question and hangs up.
    Contact(SIN, "phone", "vera", "2025-06-10 13:00", ("not_serious",), survey=(NO, None, None)),
    Contact(HW, "chat", "lars", "2025-06-17 14:10", ("not_serious",), waited=20),
    Contact(HW, "chat", "gone-1", "2025-07-01 22:10", (), waited=240),
    Contact(HW, "form", "form-2", "2025-08-03 03:15", ("sextortion", "concern_other"), waited=6000),
    Contact(HW, "chat", "mila", "2025-09-09 14:55", ("sexting",), waited=600),
    Contact(
        SIN,
        "phone",
        "wim",
        "2025-09-22 10:10",
        ("concern_self",),
        callback="2025-09-22 11:40",
        followup=Followup("2025-09-29 10:00", "cancelled"),
    ),
    Contact(SIN, "phone", "ruud", "2025-10-07 16:20", (), waited=75),
    # The first Monday after summer time ended.
    Contact(HW, "chat", "bo", "2025-10-27 10:45", ("professional",), survey=(YES, YES, NO)),
    Contact(
        SIN,
        "phone",
        "yara",
        "2025-11-04 12:00",
        ("concern_self",),
        waited=20,
        survey=(YES, YES, NO),
        followup=Followup("2025-11-11 10:00", "held"),
    ),
    Contact(HW, "chat", "ilse", "2025-11-18 20:05", ("general_information",)),
    Contact(HW, "chat", "gone-2", "2025-12-02 14:30", (), waited=30),
    # Sent ten minutes before the new year, answered in it: a contact of 2025.
    Contact(HW, "form", "form-3", "2025-12-31 23:50", ("sexting",), waited=9 * 3600),
)


def local(moment: str) -> datetime:
    """'2025-01-13 10:15' at the helpline (aware)."""
    return datetime.fromisoformat(moment).replace(tzinfo=ZONE)


def utc_iso(moment: str) -> str:
    return local(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def at(moment: datetime):
    """Stop the clock at `moment` for what happens inside."""
    return time_machine.travel(moment, tick=False)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def signed_in(app, user):
    http = app.test_client()
    with http.session_transaction() as session:
        factories.signed_in_session(session, user)
    return http


def gather_action(twiml: str) -> str:
    return re.search(r'<Gather action="([^"]+)"', twiml)[1].replace("&amp;", "&")


# --- playing the plan -------------------------------------------------------------------------


class Year:
    """Staff and tokens of the helpline, playing each planned contact through its channel."""

    def __init__(self, app, visitor, counsellor, runner):
        self.app = app
        # Anna's one sign-in lasts through the years the clock jumps over, and on to today.
        app.config["STAFF_SESSION_HOURS"] = 10 * 366 * 24
        app.config["STAFF_IDLE_MINUTES"] = 10 * 366 * 24 * 60
        self.visitor = visitor
        self.runner = runner
        self.http = app.test_client()
        numbers = sorted({c.person for c in PLAN if c.channel == "phone"})
        self.numbers = {person: f"+316100{i:05d}" for i, person in enumerate(numbers)}
        self.browsers = {c.person: secrets.token_urlsafe(32) for c in PLAN}

        user = factories.staff_user("Anna", max_chats=10)
        self.therapist = factories.staff_user("Eva", role="therapist")
        self.cli("service", "phone", SIN, SERVICE_NUMBER)
        self.cli("service", "phone-survey", SIN, "on")
        self.cli("staff", "phone", user.email, COUNSELLOR_PHONE)
        self.staff_token = self.token(user.email)
        self.therapist_token = self.token(self.therapist.email)
        with at(local(PLAN[0].opened) - timedelta(days=30)):
            self.anna = counsellor(user=user)
            assert self.anna.emit("take_calls", {"on": True})["ok"]
            eva = signed_in(app, self.therapist)
            for weekday in range(5):
                added = eva.post(
                    "/followup/availability/rules",
                    data={
                        "weekday": str(weekday),
                        "starts": "09:00",
                        "ends": "17:00",
                        "slot_minutes": "60",
                        "valid_from": "2024-01-01",
                    },
                )
                assert added.status_code == 303, added.text

    def cli(self, *args: str) -> str:
        result = self.runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.stdout

    def token(self, email: str) -> str:
        return self.cli("api", "token", "create", "--email", email, "--name", "annual").split()[0]

    def play(self, contact: Contact) -> None:
        opened = local(contact.opened)
        self.anna.drain()
        with at(opened):
            start = {"chat": self.chat, "form": self.form, "phone": self.call}[contact.channel]
            conversation_id, person = start(contact)
        if contact.abandoned:
            with at(opened + timedelta(seconds=contact.wait)):
                self.give_up(contact, person)
            return
        if contact.callback:
            self.call_back(contact, conversation_id, person)
            ended = local(contact.callback) + timedelta(minutes=5)
        else:
            with at(opened + timedelta(seconds=contact.wait)):
                assert self.anna.claim(conversation_id)["ok"]
                if contact.channel == "phone":
                    person.leave_queue("redirected")
            ended = opened + timedelta(seconds=contact.wait + 300)
            if contact.channel == "phone":
                self.talk(contact, person, ended)
            else:
                with at(opened + timedelta(seconds=contact.wait + 30)):
                    assert self.anna.say(conversation_id, "Goed dat je contact opneemt.")["ok"]
                with at(ended):
                    self.end_chat(contact, conversation_id, person)
        booking_id = None
        if contact.followup:
            with at(ended + timedelta(minutes=1)):
                booking_id = self.book(contact, conversation_id)
        with at(ended + timedelta(minutes=2)):
            closed = self.anna.close_conversation(
                conversation_id, "Advies gegeven.", contact.categories
            )
            assert closed["ok"], closed
        if booking_id is not None:
            self.follow_up(contact.followup, booking_id, ended)
        if contact.channel == "chat":
            person.close()

    # --- channels

    def chat(self, contact: Contact):
        person = self.visitor(self.browsers[contact.person])
        assert person.say("Hallo, kan ik iets vragen?", service=contact.service)["ok"]
        return self.announced(), person

    def form(self, contact: Contact):
        sent = self.http.post(
            f"/form/{contact.service}",
            data={
                "submission_key": secrets.token_urlsafe(24),
                "about": "myself",
                "what_happened": "Iemand dreigt mijn foto's te delen als ik niet betaal.",
            },
        )
        assert sent.status_code == 200, sent.text
        return self.announced(), None

    def call(self, contact: Contact):
        caller = Caller(self.app, number=self.numbers[contact.person], to=SERVICE_NUMBER)
        assert "<Enqueue" in caller.call().text
        conversation_id = self.announced()
        if contact.callback:
            # Nobody free in time: the caller leaves the queue for the menu and asks for a call.
            limit = self.app.config["PHONE_QUEUE_WAIT_SECONDS"]
            assert "<Leave" in caller.wait(limit).text
            assert "<Gather" in caller.leave_queue("leave").text
            assert "We bellen je terug" in caller.press("2").text
            caller.status("completed", limit + 20)
        return conversation_id, caller

    def announced(self) -> int:
        [new] = self.anna.received("new_conversation")
        return new["id"]

    def give_up(self, contact: Contact, person) -> None:
        if contact.channel == "chat":
            assert person.emit("leave", {"token": person.token})["ok"]
            person.close()
        else:
            person.leave_queue("hangup")
            person.status("completed", contact.wait)

    def talk(self, contact: Contact, caller: Caller, ended: datetime) -> None:
        """The call is put through; after the talk the caller answers the keypad survey."""
        with at(ended):
            question = caller.dial_ended("completed", 300).text
            for answer in contact.survey or ():
                if answer is None:
                    break
                question = caller.post(gather_action(question), Digits="1" if answer else "2").text
            caller.status("completed", contact.wait + 300)

    def end_chat(self, contact: Contact, conversation_id: int, person) -> None:
        """The counsellor ends it; a chat visitor answers the survey the end offers."""
        if person is not None:
            person.drain()
        assert self.anna.emit("end", {"conversation_id": conversation_id})["ok"]
        if person is None or contact.survey is None:
            return
        [state] = person.received("state")
        words = {True: "yes", False: "no", None: ""}
        answers = {q: words[a] for q, a in zip(QUESTIONS, contact.survey, strict=True)}
        sent = self.http.post(state["survey_url"], data=answers)
        assert "Dank je wel voor je antwoorden" in sent.text

    def call_back(self, contact: Contact, conversation_id: int, caller: Caller) -> None:
        back = local(contact.callback)
        with at(back - timedelta(seconds=60)):
            assert self.anna.claim(conversation_id)["ok"]
        with at(back):
            ack = self.anna.emit("call_back", {"conversation_id": conversation_id})
            assert ack["ok"], ack
            staff_leg, caller_leg = ack["call_sid"], factories.call_sid()
            caller.status("in-progress", sid=staff_leg)
            caller.status("ringing", sid=caller_leg, parent=staff_leg)
            caller.status("in-progress", sid=caller_leg, parent=staff_leg)
        with at(back + timedelta(minutes=5)):
            caller.status("completed", 290, sid=caller_leg, parent=staff_leg)
            caller.status("completed", 300, sid=staff_leg)
            assert self.anna.emit("end", {"conversation_id": conversation_id})["ok"]

    # --- follow-up

    def slot(self, moment: str) -> str:
        """The free slot at that local time, as the API offers it."""
        free = self.http.get(
            "/api/v1/followup/slots",
            query_string={"therapist": self.therapist.id, "from": moment[:10], "days": 1},
            headers=bearer(self.staff_token),
        )
        assert free.status_code == 200, free.json
        wanted = utc_iso(moment) + "Z"
        assert wanted in [s["starts_at"].replace(".000", "") for s in free.json["slots"]]
        return wanted

    def book(self, contact: Contact, conversation_id: int) -> int:
        booked = self.http.post(
            f"/api/v1/conversations/{conversation_id}/followups",
            json={
                "therapist_id": self.therapist.id,
                "starts_at": self.slot(contact.followup.slot),
                "method": "phone" if contact.channel == "phone" else "chat",
            },
            headers=bearer(self.staff_token),
        )
        assert booked.status_code == 201, booked.json
        return booked.json["id"]

    def follow_up(self, plan: Followup, booking_id: int, booked: datetime) -> None:
        slot = plan.slot
        if plan.moved_to:
            with at(booked + timedelta(days=2)):
                moved = signed_in(self.app, self.anna.user).post(
                    f"/followup/bookings/{booking_id}/reschedule",
                    data={"slot": f"{self.therapist.id}:{self.slot(plan.moved_to)}"},
                )
                assert moved.status_code in (302, 303), moved.text
                # The moved session is the next booking made; the old one stays as history.
                booking_id += 1
                slot = plan.moved_to
        if plan.outcome is None:
            return
        when = local(slot) + (timedelta(days=-1) if plan.outcome == "cancelled" else timedelta(0))
        with at(when + timedelta(hours=1)):
            recorded = self.http.post(
                f"/api/v1/followups/{booking_id}/outcome",
                json={"outcome": plan.outcome},
                headers=bearer(self.therapist_token),
            )
            assert recorded.status_code == 200, recorded.json
            assert recorded.json["status"] == plan.outcome


# --- what the plan adds up to -------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    contact: Contact
    kind: str
    started: datetime


def moments(service: str | None, year: int) -> list[Moment]:
    found = []
    for c in PLAN:
        found.append(Moment(c, "inbound", local(c.opened)))
        if c.callback:
            found.append(Moment(c, "callback", local(c.callback)))
    return [m for m in found if of(m.contact, service) and m.started.year == year]


def contacts(service: str | None, year: int) -> list[Contact]:
    return [c for c in PLAN if of(c, service) and local(c.opened).year == year]


def of(contact: Contact, service: str | None) -> bool:
    return service is None or contact.service == service


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def change(before: int, now: int) -> float | None:
    return round(100 * (now - before) / before, 1) if before else None


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "p90": None}
    p90 = (
        values[0] if len(values) == 1 else statistics.quantiles(values, n=10, method="inclusive")[8]
    )
    return {"n": len(values), "median": round(statistics.median(values), 1), "p90": round(p90, 1)}


def expected(service: str | None, year: int = YEAR) -> dict:
    """Every figure of the report for `service` (None: all) in `year`, counted from PLAN."""
    now, before = moments(service, year), moments(service, year - 1)
    channels = ("chat", "form", "phone")
    per_channel = {
        ch: {
            "inbound": sum(m.kind == "inbound" and m.contact.channel == ch for m in now),
            "callback": sum(m.kind == "callback" and m.contact.channel == ch for m in now),
        }
        for ch in channels
    }
    for counts in per_channel.values():
        counts["total"] = counts["inbound"] + counts["callback"]
    people = {ch: {m.contact.person for m in now if m.contact.channel == ch} for ch in channels}
    unique = len({m.contact.person for m in now})

    opened = contacts(service, year)
    tagged = [c for c in opened if c.categories]
    categories = {
        CATEGORY_NAMES[slug]: (
            sum(slug in c.categories for c in tagged),
            len({c.person for c in tagged if slug in c.categories}),
        )
        for slug in CATEGORY_NAMES
        if any(slug in c.categories for c in tagged)
    }
    categories["Unique total"] = (len(tagged), len({c.person for c in tagged}))

    booked = [
        c.followup for c in PLAN if of(c, service) and c.followup and booking_day(c).year == year
    ]
    outcomes = Counter(f.outcome or "open" for f in booked)
    funnel = {
        "booked": len(booked),
        "held": outcomes["held"] + outcomes["referred"],
        "no_show": outcomes["no_show"],
        "referred": outcomes["referred"],
        "cancelled": outcomes["cancelled"],
        "open": outcomes["open"],
    }
    funnel["percent"] = {
        key: percent(funnel[key], len(booked))
        for key in ("held", "no_show", "referred", "cancelled", "open")
    }

    surveyed = [c.survey for c in opened if c.survey]
    survey = {"n": len(surveyed), "questions": {}}
    for index, question in enumerate(QUESTIONS):
        answered = [s[index] for s in surveyed if s[index] is not None]
        survey["questions"][question] = {
            "answered": len(answered),
            "yes": sum(answered),
            "percent": percent(sum(answered), len(answered)),
        }

    taken = [c for c in opened if not c.abandoned]
    times = {
        "waiting": {
            ch: percentiles([float(c.wait) for c in taken if c.channel == ch]) for ch in channels
        },
        # Chats and forms: the counsellor's first words, 30 s after taking it; calls: taken.
        "first_response": {
            ch: percentiles(
                [float(c.wait + (0 if ch == "phone" else 30)) for c in taken if c.channel == ch]
            )
            for ch in channels
        },
    }

    abandoned = {ch: sum(c.abandoned and c.channel == ch for c in opened) for ch in channels}
    week = [[0] * 24 for _ in range(7)]
    for m in now:
        week[m.started.weekday()][m.started.hour] += 1

    previous_people = len({m.contact.person for m in before})
    return {
        "moments": {
            "channels": per_channel,
            "inbound": len([m for m in now if m.kind == "inbound"]),
            "callbacks": len([m for m in now if m.kind == "callback"]),
            "total": len(now),
        },
        "people": {
            "channels": {
                ch: {"unique": len(people[ch]), "moments": per_channel[ch]["total"]}
                for ch in channels
            },
            "unique": unique,
            "moments": len(now),
            "per_person": round(len(now) / unique, 2) if unique else None,
        },
        "categories": categories,
        "growth": {
            "previous_first": f"{year - 1}-01-01",
            "previous_last": f"{year - 1}-12-31",
            "moments": [len(before), len(now)],
            "moments_change": change(len(before), len(now)),
            "people": [previous_people, unique],
            "people_change": change(previous_people, unique),
        },
        "funnel": funnel,
        "survey": survey,
        "times": times,
        "abandoned": {"channels": abandoned, "total": sum(abandoned.values())},
        "week": week,
    }


def booking_day(contact: Contact):
    """The local day the session was booked: in wrap-up, after the talk or the callback."""
    return local(contact.callback or contact.opened).date()


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def cell(value) -> str:
    return "" if value is None else str(value)


def cells(row, *keys) -> list[str]:
    return [cell(row[key]) for key in keys]


# --- the test -----------------------------------------------------------------------------------


def test_a_year_played_through_the_public_interfaces_is_reported_exactly(
    app, visitor, counsellor, runner
):
    year = Year(app, visitor, counsellor, runner)
    for contact in PLAN:
        year.play(contact)

    supervisor = factories.staff_user("Sam", role="supervisor")
    token = year.token(supervisor.email)
    for service in (None, HW, SIN):
        query = {"year": YEAR} | ({"service": service} if service else {})
        answer = year.http.get("/api/v1/reports", query_string=query, headers=bearer(token))
        assert answer.status_code == 200, answer.json
        report, want = answer.json, expected(service)
        for table in ("moments", "people", "growth", "funnel", "survey", "abandoned", "week"):
            assert report[table] == want[table], (service, table)
        assert report["times"] == want["times"], service
        categories = {row["name"]: (row["contacts"], row["people"]) for row in report["categories"]}
        assert categories == want["categories"], service
        assert report["categories"][-1]["name"] == "Unique total"

    # The annual report's kind of sentence, from this plan: a guard on the counting above.
    assert expected(SIN)["people"]["unique"] == 9 and expected(SIN)["moments"]["total"] == 13
    assert expected(SIN)["funnel"]["booked"] == 8
    assert expected(SIN)["funnel"]["percent"]["referred"] == 25.0
    assert expected(HW)["growth"]["moments"] == [3, 15]

    http = signed_in(app, supervisor)
    csv_of = lambda name, service=None: rows_of(  # noqa: E731
        http.get(
            f"/reports/{name}.csv",
            query_string={"year": YEAR} | ({"service": service} if service else {}),
        )
    )
    stop = expected(SIN)
    moments_of = stop["moments"]
    assert csv_of("moments", SIN) == [
        ["Channel", "Inbound", "Callbacks", "Contact moments"],
        *(
            [name, *cells(moments_of["channels"][channel], "inbound", "callback", "total")]
            for channel, name in (("chat", "Chat"), ("form", "Form"), ("phone", "Phone"))
        ),
        ["Total", *cells(moments_of, "inbound", "callbacks", "total")],
    ]
    assert csv_of("funnel", SIN)[1:] == [
        ["Booked", str(stop["funnel"]["booked"]), "100.0"],
        *(
            [label, cell(stop["funnel"][key]), cell(stop["funnel"]["percent"][key])]
            for key, label in (
                ("held", "Held (incl. referred)"),
                ("no_show", "No-show"),
                ("referred", "Referred into treatment"),
                ("cancelled", "Cancelled"),
                ("open", "Still open"),
            )
        ),
    ]
    growth = stop["growth"]
    assert csv_of("growth", SIN)[1:] == [
        ["Contact moments", *cells(growth["moments"], 0, 1), cell(growth["moments_change"])],
        ["Unique people", *cells(growth["people"], 0, 1), cell(growth["people_change"])],
    ]
    assert csv_of("abandoned", SIN)[1:] == [
        ["Chat", *cells(stop["abandoned"]["channels"], "chat")],
        ["Phone", *cells(stop["abandoned"]["channels"], "phone")],
        ["Total", *cells(stop["abandoned"], "total")],
    ]
    everyone = expected(None)
    assert csv_of("categories")[1:] == [
        [name, str(contacts), str(persons)]
        for name, (contacts, persons) in everyone["categories"].items()
    ]
    assert csv_of("survey", HW)[1:] == [
        [label, str(q["answered"]), str(q["yes"]), cell(q["percent"])]
        for label, q in zip(
            ("Satisfied", "Felt better afterwards", "Would recommend"),
            expected(HW)["survey"]["questions"].values(),
            strict=True,
        )
    ]
    for slug, name in ((HW, "Helpwanted"), (SIN, "Stop it Now!")):
        row = expected(slug)
        assert [
            name,
            *cells(row["moments"], "inbound", "callbacks", "total"),
            *cells(row["people"], "unique"),
        ] in csv_of("services")
    week = csv_of("week")
    assert week[-1] == [
        "Total",
        *map(str, map(sum, zip(*everyone["week"], strict=True))),
        str(len(moments(None, YEAR))),
    ]
