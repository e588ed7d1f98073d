"""What visitors' browsers get: no cookies but a form's CSRF token, strict security headers,
nothing from another site, pages that are not cached, the quick exit on every page."""

import re
from pathlib import Path

import pytest

from helpline import create_app
from helpline.config import ConfigurationError
from helpline.extensions import db, socketio
from tests import factories
from tests.test_forms import codes, helpwanted_answers, send

ROOT = Path(__file__).resolve().parent.parent


def test_privacy_chat_pages_and_the_chat_socket_set_no_cookies(app, client):
    for path in ("/", "/chat/helpwanted", "/chat/stopitnow?lang=en"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    # The socket's first request, as a browser makes it (long-polling), sets none either.
    handshake = client.get("/socket.io/?EIO=4&transport=polling")
    assert handshake.status_code == 200
    assert "Set-Cookie" not in handshake.headers
    person = socketio.test_client(app, namespace="/chat", flask_test_client=client)
    ack = person.emit(
        "message",
        {"service": "helpwanted", "visitor": "v" * 43, "client_msg_id": "abcdefgh1", "body": "hoi"},
        namespace="/chat",
        callback=True,
    )
    assert ack["ok"]
    assert client.get_cookie("session") is None
    person.disconnect(namespace="/chat")


def test_privacy_a_form_page_sets_one_session_cookie_holding_only_its_csrf_token(app, client):
    app.config["WTF_CSRF_ENABLED"] = True

    page = client.get("/form/helpwanted")

    cookies = page.headers.getlist("Set-Cookie")
    assert len(cookies) == 1
    cookie = cookies[0].lower()
    assert cookie.startswith("session=") and "httponly" in cookie
    assert "expires=" not in cookie and "max-age=" not in cookie  # ends with the browser
    serializer = app.session_interface.get_signing_serializer(app)
    assert set(serializer.loads(client.get_cookie("session").value)) == {"csrf_token"}


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def test_privacy_every_page_and_response_carries_the_security_headers(app, client):
    responses = {
        "start page": client.get("/"),
        "chat": client.get("/chat/helpwanted"),
        "form": client.get("/form/helpwanted"),
        "reply page": client.get("/form/reply"),
        "sign-in": client.get("/login"),
        "page not found": client.get("/no/such/page"),
        "refused form": client.post("/form/helpwanted", data={}),
        "staff page, signed out": client.get("/inbox"),
        "API without a token": client.get("/api/v1/conversations"),
        "static file": client.get("/static/js/chat.js"),
    }

    for name, response in responses.items():
        sent = {header: response.headers.get(header) for header in SECURITY_HEADERS}
        assert sent == SECURITY_HEADERS, name
        response.close()


VISITOR_PAGES = ("/", "/chat/helpwanted", "/form/helpwanted", "/form/stopitnow", "/form/reply")


def test_privacy_visitor_pages_load_nothing_from_another_site(app, client):
    for path in VISITOR_PAGES:
        page = client.get(path).get_data(as_text=True)
        loaded = re.findall(r"<(?:script|link|img|iframe|audio|video|source)\b[^>]*>", page)
        assert loaded, path
        for tag in loaded:
            for address in re.findall(r'(?:src|href)="([^"]*)"', tag):
                on_this_site = address.startswith("/") and not address.startswith("//")
                assert on_this_site or address.startswith("data:"), (path, tag)


def test_privacy_socket_connections_from_another_sites_pages_are_refused(app, client):
    handshake = "/socket.io/?EIO=4&transport=polling"

    elsewhere = client.get(handshake, headers={"Origin": "https://evil.example"})
    same_site = client.get(handshake, headers={"Origin": "http://localhost"})

    assert elsewhere.status_code == 400
    assert same_site.status_code == 200


def test_privacy_form_and_reply_pages_are_never_cached(app, client):
    form = client.get("/form/helpwanted")
    thanks = send(client, **helpwanted_answers())
    code, secret = codes(thanks.get_data(as_text=True))
    reply = client.post("/form/reply", data={"code": code, "secret": secret})

    for response in (form, thanks, client.get("/form/reply"), reply):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


def test_privacy_production_refuses_the_default_secret_key_and_sends_cookies_only_over_https(
    app, database_url_for_tests, monkeypatch
):
    monkeypatch.setenv("HELPLINE_ENV", "production")
    production = {"SQLALCHEMY_DATABASE_URI": database_url_for_tests, "REDIS_URL": None}

    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(production)
    secured = create_app({**production, "SECRET_KEY": "a real secret"})
    with secured.app_context():
        db.engine.dispose()

    assert secured.config["SESSION_COOKIE_SECURE"] is True
    assert secured.config["REMEMBER_COOKIE_SECURE"] is True


def test_privacy_the_staff_session_cookie_is_http_only_and_same_site_lax(app, client):
    user = factories.staff_user("Anna")

    factories.sign_in(client, user)

    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert client.get("/inbox").status_code == 200


def test_privacy_every_visitor_page_has_the_quick_exit_button_and_its_esc_key(
    app, client, visitor, counsellor
):
    thanks = send(client, **helpwanted_answers())
    code, secret = codes(thanks.get_data(as_text=True))
    person = visitor()
    person.say("hoi")
    anna = counsellor()
    anna.claim(2)
    anna.emit("end", {"conversation_id": 2})
    state = person.received("state")[-1]
    pages = {
        "start page": client.get("/"),
        "chat": client.get("/chat/helpwanted"),
        "form": client.get("/form/stopitnow"),
        "thank-you page": thanks,
        "reply look-up": client.get("/form/reply"),
        "reply page": client.post("/form/reply", data={"code": code, "secret": secret}),
        "survey": client.get(state["survey_url"]),
        "booked chat": client.get("/afspraak"),
        "error page": client.get("/no/such/page"),
    }

    for name, response in pages.items():
        assert response.status_code == (404 if name == "error page" else 200), name
        page = response.get_data(as_text=True)
        assert f'id="quick-exit" href="{app.config["QUICK_EXIT_URL"]}"' in page, name
        assert 'aria-keyshortcuts="Escape"' in page, name
        # exit.js answers the button and Esc; the chat page's own script imports it.
        assert "/static/js/exit.js" in page or "/static/js/chat.js" in page, name
    assert 'import "./exit.js";' in (ROOT / "static" / "js" / "chat.js").read_text()
