"""Every staff page has one header that links to the pages its reader may use; each role starts
on its own page after signing in; no staff page tells people to run a developer command."""

import re
from datetime import date, time
from pathlib import Path

import pytest
from flask import render_template, url_for
from flask_login import login_user
from sqlalchemy import update

from helpline.extensions import db
from helpline.followup import bookings, therapists
from helpline.inbox.models import Conversation
from helpline.navigation import STAFF_PAGES
from tests import factories

STATIC_JS = Path(__file__).resolve().parent.parent / "static" / "js"

EXPECTED_LINKS = {
    "counsellor": ["Inbox", "API tokens", "Search", "Account"],
    "therapist": ["Agenda", "Availability", "API tokens", "Search", "Account"],
    "supervisor": [
        "Inbox",
        "Agenda",
        "Availability",
        "Reports",
        "API tokens",
        "Canned responses",
        "Blocked visitors",
        "Search",
        "Board",
        "Account",
    ],
    "admin": [
        "Inbox",
        "Agenda",
        "Availability",
        "Reports",
        "API tokens",
        "Categories",
        "Canned responses",
        "Blocked visitors",
        "Search",
        "Board",
        "Account",
    ],
}
LANDING = {
    "counsellor": "/inbox",
    "supervisor": "/inbox",
    "therapist": "/followup/agenda",
    "admin": "/admin/categories",
}


def http_of(app, user):
    """An HTTP client signed in as `user`."""
    http = app.test_client()
    with http.session_transaction() as session:
        factories.signed_in_session(session, user)
    return http


def header_links(page: str) -> list[str]:
    """The labels of the staff header's links, in order."""
    nav = re.search(r'<nav class="staff-nav".*?</nav>', page, re.S)
    assert nav, "the page has no staff header"
    return re.findall(r"<a [^>]*>([^<]+)</a>", nav.group(0))


def signs_out(page: str) -> bool:
    return 'action="/logout"' in page and ">Sign out</button>" in page


@pytest.mark.parametrize("role", sorted(EXPECTED_LINKS))
def test_each_role_sees_exactly_the_pages_it_may_use(app, role):
    factories.services()
    http = http_of(app, factories.staff_user("Sam", role=role))

    page = http.get("/api/tokens")

    assert page.status_code == 200
    assert header_links(page.text) == EXPECTED_LINKS[role]
    assert signs_out(page.text)


@pytest.mark.parametrize("role", sorted(EXPECTED_LINKS))
def test_every_link_of_the_header_opens_for_its_reader(app, role):
    factories.services()
    http = http_of(app, factories.staff_user("Sam", role=role))
    labels = {page.endpoint: page.label for page in STAFF_PAGES}

    for endpoint, label in labels.items():
        if label not in EXPECTED_LINKS[role]:
            continue
        with app.test_request_context():
            url = url_for(endpoint)
        page = http.get(url)
        assert page.status_code == 200, url
        current = re.search(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', page.text)
        assert current and current.group(1) == label, url


@pytest.mark.parametrize("role", sorted(LANDING))
def test_each_role_lands_on_its_own_page_after_signing_in(app, role):
    factories.services()
    user = factories.staff_user("Sam", role=role)
    http = app.test_client()

    answer = factories.sign_in(http, user)

    assert answer.status_code == 302
    assert answer.headers["Location"] == LANDING[role]
    assert http.get(LANDING[role]).status_code == 200


def test_a_signed_in_person_opening_the_login_page_goes_to_their_own_page(app):
    admin = factories.staff_user("Ada", role="admin")

    answer = http_of(app, admin).get("/login")

    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/categories"


def test_signing_in_on_the_way_to_a_page_still_goes_to_that_page(app):
    factories.services()
    therapist = factories.staff_user("Tara", role="therapist")
    http = app.test_client()
    first = http.post(
        "/login",
        data={"email": therapist.email, "password": factories.PASSWORD, "next": "/api/tokens"},
    )
    assert first.status_code == 302

    answer = http.post("/login/code", data={"code": factories.totp_code(therapist.email)})

    assert answer.headers["Location"] == "/api/tokens"


@pytest.fixture
def staff_pages(app, visitor):
    """Every staff page's address, with the rows a page needs: a conversation with a booking."""
    factories.services()
    admin = factories.staff_user("Ada", role="admin")
    eva = factories.staff_user("Eva", role="therapist")
    therapists.add_rule(eva, eva.id, 0, time(10), time(12), 45, valid_from=date(2020, 1, 1))
    person = visitor()
    person.say("Hallo", service="stopitnow")
    db.session.execute(update(Conversation).values(state="active", assignee_id=admin.id))
    db.session.commit()
    conversation = person.conversation()
    slot = therapists.free_slots(eva.id)[0]
    booking = bookings.book(conversation.id, admin, eva.id, slot.starts_at, "chat").booking
    return admin, [
        "/inbox",
        "/inbox/blocks",
        "/followup/agenda",
        "/followup/availability",
        f"/followup/book/{conversation.id}",
        f"/followup/bookings/{booking.id}/reschedule",
        "/reports",
        "/api/tokens",
        "/admin/categories",
        "/admin/canned-responses",
        "/inbox/search",
        "/board",
        "/account",
    ]


def test_every_staff_page_has_the_header_and_no_developer_command(app, staff_pages):
    admin, urls = staff_pages
    http = http_of(app, admin)

    for url in urls:
        page = http.get(url)
        assert page.status_code == 200, url
        assert header_links(page.text)[0] == "Inbox", url
        assert "flask " not in page.text.lower(), url


@pytest.mark.parametrize("numbers", [{}, {"stopitnow": factories.SERVICE_NUMBER}])
def test_the_phone_simulator_page_has_the_header_and_no_developer_command(app, numbers):
    # Served only with the simulated Twilio of development: rendered here as its view does.
    admin = factories.staff_user("Ada", role="admin")
    with app.test_request_context("/phone/simulator"):
        login_user(admin)
        page = render_template(
            "phone/simulator.html", numbers=numbers, choices={}, calls=[], running=False
        )

    assert header_links(page)[0] == "Inbox"
    assert "flask " not in page.lower()


def test_the_availability_page_without_therapists_names_no_command(app):
    http = http_of(app, factories.staff_user("Ada", role="admin"))

    page = http.get("/followup/availability")

    assert "There are no therapists yet: ask an admin to add them." in page.text
    assert "flask " not in page.text.lower()


def test_the_staff_scripts_name_no_developer_command():
    scripts = [p for p in STATIC_JS.rglob("*.js") if "vendor" not in p.parts]

    assert scripts
    for script in scripts:
        assert "flask " not in script.read_text().lower(), script.name


def test_the_inbox_keeps_its_own_controls_below_the_header(app):
    factories.services()
    page = http_of(app, factories.staff_user("Anna")).get("/inbox").text

    bar = re.search(r'<div class="inbox-bar">.*?</div>', page, re.S).group(0)
    assert 'id="connection"' in bar and 'id="take-calls"' in bar and 'id="sound"' in bar
    assert "No phone number set: ask an admin<" in bar
