"""Categories at wrap-up, their correction, the admin's category pages, and referrals."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from helpline.extensions import db
from helpline.inbox.models import (
    AuditEntry,
    Category,
    Conversation,
    ConversationCategory,
    Referral,
    ServiceCategory,
)
from tests.factories import category_id


def ended_chat(visitor, counsellor, service: str = "helpwanted"):
    """A chat Anna has had and ended: conversation 1, in wrap-up."""
    visitor().say("Hallo", service=service)
    anna = counsellor("Anna")
    anna.claim(1)
    anna.emit("end", {"conversation_id": 1})
    return anna


def close_payload(*slugs: str, summary: str = "Advies gegeven") -> dict:
    return {
        "conversation_id": 1,
        "summary": summary,
        "categories": [category_id(slug) for slug in slugs],
    }


def categories_of(conversation_id: int) -> list[str]:
    db.session.rollback()
    return sorted(
        db.session.scalars(
            select(Category.slug)
            .join(ConversationCategory, ConversationCategory.category_id == Category.id)
            .where(ConversationCategory.conversation_id == conversation_id)
        )
    )


def audit_detail(action: str) -> list[tuple[int, dict]]:
    db.session.rollback()
    return [
        (entry.actor_id, entry.detail)
        for entry in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    ]


def category(slug: str) -> Category:
    db.session.rollback()
    return db.session.scalar(select(Category).where(Category.slug == slug))


# --- closing with categories ------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"conversation_id": 1, "summary": "Advies gegeven", "categories": []}, "categories"),
        ({"conversation_id": 1, "summary": "Advies gegeven"}, "categories"),
        ({"conversation_id": 1, "summary": "   ", "categories": [1]}, "summary"),
        ({"conversation_id": 1, "categories": [1]}, "summary"),
    ],
)
def test_closing_without_categories_or_summary_is_refused_and_changes_nothing(
    app, visitor, counsellor, payload, field
):
    anna = ended_chat(visitor, counsellor)

    ack = anna.emit("close", payload)

    assert ack["error"]["code"] == "invalid"
    assert field in ack["error"]["fields"]
    conversation = db.session.get(Conversation, 1)
    assert (conversation.state, conversation.summary) == ("wrap_up", None)
    assert categories_of(1) == []


def test_category_the_service_does_not_offer_is_refused(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor, service="helpwanted")

    ack = anna.emit("close", close_payload("sextortion", "concern_self"))

    assert ack["error"]["code"] == "invalid_categories"
    assert db.session.get(Conversation, 1).state == "wrap_up"
    assert categories_of(1) == []


def test_retired_category_is_refused_at_closing(app, visitor, counsellor):
    admin = counsellor("Ada", role="admin")
    anna = ended_chat(visitor, counsellor)
    admin.http.post(f"/admin/categories/{category_id('sexting')}/retire", data={"retired": "true"})

    ack = anna.emit("close", close_payload("sexting"))

    assert ack["error"]["code"] == "invalid_categories"
    assert db.session.get(Conversation, 1).state == "wrap_up"


def test_conversation_with_two_categories_shows_both_in_its_list_row(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)

    ack = anna.emit("close", close_payload("sextortion", "concern_other"))

    assert ack["ok"] is True
    names = ["Sextortion", "Concern about another person"]
    assert [c["name"] for c in ack["conversation"]["categories"]] == names
    [row] = anna.emit("list", {"states": ["closed"]})["conversations"]
    assert [c["name"] for c in row["categories"]] == names
    assert [c["id"] for c in row["categories"]] == [
        category_id("sextortion"),
        category_id("concern_other"),
    ]


def test_categories_event_offers_the_services_categories_only(app, counsellor):
    anna = counsellor("Anna")

    offered = anna.emit("categories", {"service": "stopitnow"})["categories"]

    slugs = [c["slug"] for c in offered]
    assert "concern_self" in slugs
    assert "sextortion" not in slugs


# --- correcting after closing -----------------------------------------------------------------


def test_assignee_corrects_categories_with_an_audit_entry_from_and_to(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)
    anna.emit("close", close_payload("sextortion"))

    ack = anna.emit("recategorise", close_payload("sexting", "professional", summary="Beter"))

    assert ack["ok"] is True
    assert categories_of(1) == ["professional", "sexting"]
    assert db.session.get(Conversation, 1).summary == "Beter"
    [(actor, detail)] = audit_detail("conversation.recategorise")
    assert actor == anna.user_id
    assert detail["categories"] == {
        "from": [category_id("sextortion")],
        "to": sorted([category_id("sexting"), category_id("professional")]),
    }


def test_supervisor_corrects_someone_elses_categories(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)
    anna.emit("close", close_payload("sextortion"))
    sam = counsellor("Sam", role="supervisor")

    ack = sam.emit("recategorise", close_payload("sexting"))

    assert ack["ok"] is True
    assert categories_of(1) == ["sexting"]
    [(actor, detail)] = audit_detail("conversation.recategorise")
    assert actor == sam.user_id
    assert detail["categories"]["from"] == [category_id("sextortion")]


def test_another_counsellor_cannot_correct_categories(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)
    anna.emit("close", close_payload("sextortion"))
    ben = counsellor("Ben")

    ack = ben.emit("recategorise", close_payload("sexting"))

    assert ack["error"]["code"] == "forbidden"
    assert categories_of(1) == ["sextortion"]
    assert audit_detail("conversation.recategorise") == []


def test_correcting_before_closing_is_refused(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)

    ack = anna.emit("recategorise", close_payload("sextortion"))

    assert ack["error"]["code"] == "invalid_state"
    assert categories_of(1) == []


def test_retired_category_stays_on_old_conversations_but_is_not_offered(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)
    anna.emit("close", close_payload("sextortion", "sexting"))
    admin = counsellor("Ada", role="admin")

    admin.http.post(f"/admin/categories/{category_id('sexting')}/retire", data={"retired": "true"})

    [row] = anna.emit("list", {"states": ["closed"]})["conversations"]
    assert [c["name"] for c in row["categories"]] == ["Sextortion", "Sexting"]
    offered = anna.emit("categories", {"service": "helpwanted"})["categories"]
    assert "sexting" not in [c["slug"] for c in offered]
    # A correction may keep it, now that it is retired; it cannot be chosen anew elsewhere.
    kept = anna.emit("recategorise", close_payload("sexting", summary="Nog steeds"))
    assert kept["ok"] is True
    assert categories_of(1) == ["sexting"]


# --- the admin's pages ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["counsellor", "supervisor", "therapist"])
def test_only_admins_reach_the_category_pages(app, counsellor, role):
    someone = counsellor("Kim", role=role)

    assert someone.http.get("/admin/categories").status_code == 403
    response = someone.http.post("/admin/categories", data={"name": "Sneaky"})
    assert response.status_code == 403
    assert category("sneaky") is None


def test_signed_out_visitor_is_sent_to_the_login_page(app, client):
    response = client.get("/admin/categories")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_admin_creates_renames_moves_retires_and_restores_a_category(app, counsellor):
    admin = counsellor("Ada", role="admin")
    http = admin.http

    page = http.get("/admin/categories")
    assert page.status_code == 200
    assert "Sextortion" in page.get_data(as_text=True)

    assert http.post("/admin/categories", data={"name": "  Grooming  "}).status_code == 302
    grooming = category("grooming")
    assert grooming.name == "Grooming"
    http.post("/admin/categories", data={"name": "Via games", "parent_id": str(grooming.id)})
    assert category("via_games").parent_id == grooming.id

    http.post(f"/admin/categories/{grooming.id}/rename", data={"name": "Online grooming"})
    assert category("grooming").name == "Online grooming"

    def order() -> list[str]:
        db.session.rollback()
        return list(
            db.session.scalars(
                select(Category.slug)
                .where(Category.parent_id.is_(None))
                .order_by(Category.position, Category.id)
            )
        )

    assert order()[-1] == "grooming"
    http.post(f"/admin/categories/{grooming.id}/move", data={"direction": "up"})
    assert order()[-2:] == ["grooming", "not_serious"]
    http.post(f"/admin/categories/{grooming.id}/move", data={"direction": "down"})
    assert order()[-1] == "grooming"

    http.post(f"/admin/categories/{grooming.id}/retire", data={"retired": "true"})
    assert category("grooming").retired_at is not None
    http.post(f"/admin/categories/{grooming.id}/retire", data={"retired": "false"})
    assert category("grooming").retired_at is None

    page = http.get("/admin/categories").get_data(as_text=True)
    assert "Online grooming" in page
    assert "Via games" in page
    actions = [action for _, action in _admin_audit()]
    assert actions == [
        "category.create",
        "category.create",
        "category.rename",
        "category.move",
        "category.move",
        "category.retire",
        "category.restore",
    ]


def _admin_audit() -> list[tuple[int, str]]:
    db.session.rollback()
    return list(
        db.session.execute(
            select(AuditEntry.actor_id, AuditEntry.action)
            .where(AuditEntry.action.like("category.%"))
            .order_by(AuditEntry.id)
        )
    )


def test_admin_sets_which_services_offer_a_category(app, counsellor):
    admin = counsellor("Ada", role="admin")
    sexting = category_id("sexting")

    response = admin.http.post(
        f"/admin/categories/{sexting}/services", data={"services": ["helpwanted", "stopitnow"]}
    )

    assert response.status_code == 302
    db.session.rollback()
    offered_by = db.session.scalars(
        select(ServiceCategory.service_id).where(ServiceCategory.category_id == sexting)
    ).all()
    assert len(offered_by) == 2
    stopitnow = admin.emit("categories", {"service": "stopitnow"})["categories"]
    assert "sexting" in [c["slug"] for c in stopitnow]
    page = admin.http.get("/admin/categories").get_data(as_text=True)
    assert 'value="stopitnow" checked' in page


def test_blank_or_long_name_is_refused_with_its_message(app, counsellor):
    admin = counsellor("Ada", role="admin")
    before = db.session.scalar(select(func.count()).select_from(Category))

    blank = admin.http.post("/admin/categories", data={"name": "   "})
    long = admin.http.post(
        f"/admin/categories/{category_id('sexting')}/rename", data={"name": "x" * 121}
    )

    assert blank.status_code == 422
    assert "Give the category a name." in blank.get_data(as_text=True)
    assert long.status_code == 422
    assert "at most 120 characters" in long.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Category)) == before
    assert category("sexting").name == "Sexting"


def test_used_category_cannot_be_deleted_and_stays(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)
    anna.emit("close", close_payload("sextortion"))
    admin = counsellor("Ada", role="admin")

    page = admin.http.get("/admin/categories").get_data(as_text=True)
    response = admin.http.post(f"/admin/categories/{category_id('sextortion')}/delete")

    assert "retire instead" in page
    assert response.status_code == 409
    assert "retire it instead" in response.get_data(as_text=True)
    assert category("sextortion") is not None
    assert categories_of(1) == ["sextortion"]


def test_unused_category_is_deleted_with_its_subcategories(app, counsellor):
    admin = counsellor("Ada", role="admin")
    admin.http.post("/admin/categories", data={"name": "Tijdelijk"})
    parent = category("tijdelijk").id
    admin.http.post("/admin/categories", data={"name": "Onder", "parent_id": str(parent)})

    response = admin.http.post(f"/admin/categories/{parent}/delete")

    assert response.status_code == 302
    assert category("tijdelijk") is None
    assert category("onder") is None
    assert "category.delete" in [action for _, action in _admin_audit()]


def test_inbox_links_to_the_category_pages_for_admins_only(app, counsellor):
    admin, anna = counsellor("Ada", role="admin"), counsellor("Anna")

    assert "/admin/categories" in admin.http.get("/inbox").get_data(as_text=True)
    assert "/admin/categories" not in anna.http.get("/inbox").get_data(as_text=True)


# --- referrals --------------------------------------------------------------------------------


def test_referral_is_added_and_removed_with_audit_entries(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)
    today = date.today().isoformat()

    added = anna.emit(
        "add_referral",
        {"conversation_id": 1, "kind": "takedown", "referred_on": today, "note": " Instagram "},
    )

    assert added["ok"] is True
    referral = added["referral"]
    assert (referral["kind"], referral["referred_on"], referral["note"]) == (
        "takedown",
        today,
        "Instagram",
    )
    assert anna.emit("open", {"conversation_id": 1})["referrals"] == [referral]

    removed = anna.emit("remove_referral", {"conversation_id": 1, "referral_id": referral["id"]})

    assert removed["ok"] is True
    assert anna.emit("open", {"conversation_id": 1})["referrals"] == []
    actions = [detail["kind"] for _, detail in audit_detail("referral.add")]
    assert actions == ["takedown"]
    assert [detail["referral"] for _, detail in audit_detail("referral.remove")] == [referral["id"]]


def test_referral_dated_in_the_future_is_refused(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)
    later = (date.today() + timedelta(days=7)).isoformat()

    ack = anna.emit("add_referral", {"conversation_id": 1, "kind": "police", "referred_on": later})

    assert ack["error"]["code"] == "invalid_state"
    assert db.session.scalar(select(func.count()).select_from(Referral)) == 0


def test_referral_of_an_unknown_kind_is_refused(app, visitor, counsellor):
    anna = ended_chat(visitor, counsellor)

    ack = anna.emit(
        "add_referral",
        {"conversation_id": 1, "kind": "lawyer", "referred_on": date.today().isoformat()},
    )

    assert ack["error"]["code"] == "invalid"
    assert "kind" in ack["error"]["fields"]
