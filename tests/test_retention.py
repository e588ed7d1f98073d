"""Retention: what people said is purged after the service's period, every figure stays."""

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from helpline.abuse import service as abuse
from helpline.extensions import db
from helpline.followup.models import Booking
from helpline.inbox import referrals
from helpline.inbox.models import AuditEntry, Client, Conversation, Message
from helpline.phone.models import PhoneLine
from helpline.reports import figures
from helpline.reports.figures import Period
from helpline.retention import schedule
from helpline.retention import service as retention
from helpline.survey.models import SurveyAnswer
from tests import factories
from tests.factories import Caller
from tests.servers import Server
from tests.test_annual_report import HW, PLAN, SERVICE_NUMBER, SIN, Year, at, local
from tests.test_privacy import everything_stored

SAID = (
    "Hallo, kan ik iets vragen?",  # every chat of the plan
    "Goed dat je contact opneemt.",  # every counsellor's answer
    "Advies gegeven.",  # every summary
    "Iemand dreigt mijn foto's te delen",  # every form
    "Ze vertelde dat ze 14 is.",  # a note
    "Profiel @geheim op Instagram",  # a referral's note
    "Fijn dat jullie er waren, mijn school is De Linde",  # a survey comment
    "Hij noemde zijn adres",  # a follow-up session's note
    "Scheldt en stuurt dezelfde link steeds opnieuw",  # the reason a visitor was blocked
)

# Every anonymous person, as the database knows them.
PEOPLE = select(Client.id, Client.browser_hash, Client.phone_hash).order_by(Client.id)


def purge_runs(service_slug: str | None = None) -> list[dict]:
    db.session.rollback()
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "retention.purge").order_by(AuditEntry.id)
    )
    return [e.detail for e in entries if service_slug in (None, e.detail["service"])]


def deleted_recordings(app) -> list[str]:
    twilio = app.config["TWILIO_HTTP_CLIENT"]
    return [
        r["path"].rsplit("/", 1)[-1].removesuffix(".json")
        for r in twilio.requests
        if r["method"] == "DELETE"
    ]


def closed_chat(visitor, anna, when: datetime, words: str = "Ik word gechanteerd") -> int:
    """A chat at `when`, answered, ended and closed a few minutes later."""
    with at(when):
        person = visitor()
        assert person.say(words)["ok"]
        conversation_id = person.conversation().id
        assert anna.claim(conversation_id)["ok"]
        assert anna.say(conversation_id, "Wat naar, vertel")["ok"]
        assert anna.say(conversation_id, "Ze lijkt jong", note=True)["ok"]
    with at(when + timedelta(minutes=5)):
        assert anna.emit("end", {"conversation_id": conversation_id})["ok"]
        assert anna.close_conversation(conversation_id, "Chantage besproken")["ok"]
    person.close()
    return conversation_id


def closed_voicemail(app, anna, when: datetime, number: str) -> tuple[int, str]:
    """A caller leaves a voicemail at `when`; a counsellor handles and closes it."""
    caller = Caller(app, number=number, to=SERVICE_NUMBER)
    recording_sid = factories.call_sid().replace("CA", "RE")
    with at(when):
        caller.call()
        assert "<Record" in caller.press("1").text
        caller.record(30, recording_sid)
        caller.status("completed", 50)
        db.session.rollback()
        conversation_id = db.session.scalar(
            select(PhoneLine.conversation_id).where(PhoneLine.recording_sid == recording_sid)
        )
        assert anna.claim(conversation_id)["ok"]
        assert anna.emit("end", {"conversation_id": conversation_id})["ok"]
        assert anna.close_conversation(conversation_id, "Teruggebeld")["ok"]
    return conversation_id, recording_sid


# --- what is purged, what is kept ---------------------------------------------------------------


def test_privacy_retention_purges_what_was_said_and_keeps_every_figure_of_the_report(
    app, visitor, counsellor, runner
):
    year = Year(app, visitor, counsellor, runner)
    for contact in PLAN:
        year.play(contact)
    anna = year.anna
    with at(local("2025-12-31 12:00")):
        anna.drain()
        assert anna.say(1, "Ze vertelde dat ze 14 is.", note=True)["ok"]
        referrals.add_referral(1, anna.user, "takedown", local("2025-12-31 12:00").date(), SAID[5])
        abuse.block(1, anna.user, 1, SAID[8], local("2025-12-31 12:00"))
        anna.emit("take_calls", {"on": False})
        voicemail, recording_sid = closed_voicemail(app, anna, local("2025-12-31 13:00"), "+3161")
    db.session.execute(update(SurveyAnswer).where(SurveyAnswer.id == 1).values(comment=SAID[6]))
    db.session.execute(update(Booking).where(Booking.id == 1).values(outcome_note=SAID[7]))
    db.session.commit()
    assert all(words in everything_stored() for words in SAID)
    assert db.session.scalar(select(func.count()).where(PhoneLine.masked_number.is_not(None)))
    reports = [(y, s) for y in (2024, 2025) for s in (None, HW, SIN)]
    before = {key: figures.report(Period.year(key[0]), key[1]) for key in reports}
    people = db.session.execute(PEOPLE).all()

    with at(local("2027-02-01 03:00")):
        printed = year.cli("retention", "purge")

    db.session.rollback()
    after = {key: figures.report(Period.year(key[0]), key[1]) for key in reports}
    assert after == before
    assert db.session.execute(PEOPLE).all() == people
    stored = everything_stored()
    assert [words for words in SAID if words in stored] == []
    assert deleted_recordings(app) == [recording_sid]
    line = db.session.scalar(select(PhoneLine).where(PhoneLine.conversation_id == voicemail))
    assert (line.recording_url, line.masked_number, line.sealed_number) == (None, None, None)
    assert line.recording_deleted_at is not None
    every = db.session.scalar(select(func.count(Conversation.id)))
    runs = purge_runs()
    assert [run["service"] for run in runs] == [HW, SIN]
    assert sum(run["conversations"] for run in runs) == every
    assert runs[1]["voicemails"] == 1 and runs[1]["numbers"] > 0 and runs[1]["followups"] >= 1
    assert f"{HW} (after 365 days): conversations {runs[0]['conversations']}," in printed
    # The inbox says why a message is empty; a second purge has nothing left to do.
    opened = anna.emit("open", {"conversation_id": 1})
    words = [m for m in opened["messages"] if m["kind"] != "event"]
    assert words and {(m["body"], m["removed_after_days"]) for m in words} == {("", 365)}
    with at(local("2027-02-02 03:00")):
        year.cli("retention", "purge")
    assert purge_runs() == runs


def test_privacy_retention_keeps_what_was_said_until_the_services_period_has_passed(
    app, visitor, counsellor, runner
):
    anna = counsellor(max_chats=10)
    old = closed_chat(visitor, anna, local("2026-01-05 10:00"), "Oud gesprek")
    recent = closed_chat(visitor, anna, local("2026-01-25 10:00"), "Recent gesprek")
    with at(local("2026-01-30 10:00")):
        waiting = visitor()
        assert waiting.say("Nog open gesprek")["ok"]
    result = runner.invoke(args=["service", "retention", HW, "20"])
    assert result.exit_code == 0, result.output
    refused = runner.invoke(args=["service", "retention", HW, "0"])
    assert refused.exit_code != 0

    with at(local("2026-02-01 10:00")):
        [purged] = [p for p in retention.purge() if p.service == HW]

    assert (purged.service, purged.days, purged.conversations) == (HW, 20, 1)
    assert (purged.messages, purged.notes, purged.summaries) == (2, 1, 1)
    stored = everything_stored()
    assert "Oud gesprek" not in stored and "Ze lijkt jong" in stored
    assert "Recent gesprek" in stored and "Nog open gesprek" in stored
    db.session.rollback()
    marked = dict(db.session.execute(select(Conversation.id, Conversation.purged_at)).all())
    assert marked[old] is not None and marked[recent] is None


# --- safe with several servers ------------------------------------------------------------------


def test_two_servers_purging_at_once_purge_each_conversation_once(app, line, visitor, counsellor):
    anna = counsellor(max_chats=10)
    for day in range(1, 6):
        closed_chat(visitor, anna, local(f"2026-01-0{day} 10:00"))
    recordings = [
        closed_voicemail(app, anna, local(f"2026-01-0{day} 11:00"), f"+3161234567{day}")[1]
        for day in range(1, 4)
    ]
    now = local("2027-03-01 10:00").replace(tzinfo=None)
    barrier = threading.Barrier(2)
    results = []

    def server() -> None:
        with app.app_context():
            barrier.wait()
            results.append(retention.purge(now, batch_size=2))
            db.session.remove()

    threads = [threading.Thread(target=server) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(deleted_recordings(app)) == sorted(recordings)
    runs = purge_runs()
    assert sorted((run["service"], run["conversations"]) for run in runs) == [(HW, 5), (SIN, 3)]
    assert sum(p.conversations for result in results for p in result) == 8
    db.session.rollback()
    assert db.session.scalar(select(func.count()).where(Conversation.purged_at.is_(None))) == 0
    assert not db.session.scalar(
        select(func.count()).where(Message.kind.in_(("text", "note")), Message.body != "")
    )


def test_a_voicemail_twilio_cannot_delete_now_is_purged_on_a_later_run(app, line, counsellor):
    anna = counsellor()
    _conversation_id, recording_sid = closed_voicemail(
        app, anna, local("2026-01-05 10:00"), "+31612345678"
    )
    app.config["TWILIO_HTTP_CLIENT"].fail_next(503, 20003, "Service unavailable")

    with at(local("2027-03-01 10:00")):
        [first] = [p for p in retention.purge() if p.service == SIN]
    line = db.session.get(PhoneLine, 1)
    assert (first.conversations, first.postponed) == (0, 1)
    assert line.recording_url is not None and line.masked_number is not None

    with at(local("2027-03-01 11:00")):
        [second] = [p for p in retention.purge() if p.service == SIN]
    assert (second.conversations, second.voicemails, second.postponed) == (1, 1, 0)
    assert deleted_recordings(app) == [recording_sid, recording_sid]
    db.session.rollback()
    assert db.session.get(PhoneLine, 1).recording_url is None
    assert [run["postponed"] for run in purge_runs(SIN)] == [1, 0]


def test_each_server_purges_on_its_schedule(app, visitor, counsellor):
    anna = counsellor()
    conversation_id = closed_chat(visitor, anna, datetime.now() - timedelta(days=400))
    app.config["RETENTION_PURGE_SECONDS"] = 0.05

    stop = schedule.start(app)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not purge_runs():
            time.sleep(0.1)
    finally:
        stop.set()
        time.sleep(0.3)  # the schedule's last round ends

    db.session.rollback()
    assert db.session.get(Conversation, conversation_id).purged_at is not None
    assert [run["conversations"] for run in purge_runs()] == [1]


@pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
@pytest.mark.slow
def test_two_servers_started_as_deployed_purge_on_their_schedule_once(
    app, database_url_for_tests, visitor, counsellor
):
    anna = counsellor(max_chats=10)
    ids = [
        closed_chat(visitor, anna, datetime.now() - timedelta(days=400 + day)) for day in range(3)
    ]
    env = {
        "DATABASE_URL": database_url_for_tests,
        "SECRET_KEY": "retention-servers-secret",
        "RETENTION_PURGE_SECONDS": "1",
    }
    servers = [Server(env), Server(env)]
    try:
        for server in servers:
            server.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not purge_runs():
            time.sleep(0.2)
        time.sleep(2)  # both servers have had another go
    finally:
        for server in servers:
            server.stop()

    db.session.rollback()
    assert [run["conversations"] for run in purge_runs()] == [3]
    purged = db.session.scalars(select(Conversation.purged_at).where(Conversation.id.in_(ids)))
    assert None not in list(purged)
