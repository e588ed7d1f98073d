"""The category taxonomy: what contacts are about, managed by admins, offered per service."""

import re
import unicodedata

from sqlalchemy import bindparam, delete, func, select

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.errors import InboxError, InvalidState, NotFound
from helpline.inbox.models import (
    AuditEntry,
    Category,
    ConversationCategory,
    Service,
    ServiceCategory,
)
from helpline.inbox.permissions import require
from helpline.timeutil import utcnow

# slug, name, services offering it: the categories of the organisation's annual reports.
DEFAULTS = [
    ("sextortion", "Sextortion", ("helpwanted",)),
    ("sexting", "Sexting", ("helpwanted",)),
    ("concern_self", "Concern about own feelings", ("stopitnow",)),
    ("concern_other", "Concern about another person", ("helpwanted", "stopitnow", "report")),
    ("professional", "Professional", ("helpwanted", "stopitnow")),
    ("general_information", "General information", ("helpwanted", "stopitnow", "report")),
    ("not_serious", "Not serious", ("helpwanted", "stopitnow", "report")),
]


class InvalidCategories(InboxError):
    code = "invalid_categories"
    status = 422
    default_message = "Choose at least one category this service offers."


class CategoryInUse(InboxError):
    code = "category_in_use"
    default_message = "This category has been used; retire it instead of deleting it."


def seed() -> None:
    """Create the default categories once, with the services that offer them."""
    if db.session.scalar(select(func.count()).select_from(Category)):
        return
    services = {s.slug: s.id for s in db.session.scalars(select(Service))}
    for position, (slug, name, offered_by) in enumerate(DEFAULTS):
        category = Category(slug=slug, name=name, position=position)
        db.session.add(category)
        db.session.flush()
        for service_slug in offered_by:
            if service_slug in services:
                db.session.add(
                    ServiceCategory(service_id=services[service_slug], category_id=category.id)
                )
    db.session.commit()


def tree(*, service_id: int | None = None, include_retired: bool = False) -> list[dict]:
    """Categories in order, each with its subcategories; optionally only a service's offer."""
    query = select(Category).order_by(Category.position, Category.id)
    if not include_retired:
        query = query.where(Category.retired_at.is_(None))
    categories = list(db.session.scalars(query))
    offered = None
    if service_id is not None:
        offered = set(
            db.session.scalars(
                select(ServiceCategory.category_id).where(ServiceCategory.service_id == service_id)
            )
        )
    services_of: dict[int, list[str]] = {}
    for category_id, slug in db.session.execute(
        select(ServiceCategory.category_id, Service.slug)
        .join(Service, Service.id == ServiceCategory.service_id)
        .order_by(Service.slug)
    ):
        services_of.setdefault(category_id, []).append(slug)
    used = dict(
        db.session.execute(
            select(ConversationCategory.category_id, func.count()).group_by(
                ConversationCategory.category_id
            )
        ).all()
    )
    rows = {
        c.id: {
            "id": c.id,
            "slug": c.slug,
            "name": c.name,
            "parent_id": c.parent_id,
            "retired": c.retired_at is not None,
            "services": services_of.get(c.id, []),
            "used": used.get(c.id, 0),
            "children": [],
        }
        for c in categories
        if offered is None or c.id in offered or c.parent_id in offered
    }
    top = []
    for row in rows.values():
        parent = rows.get(row["parent_id"]) if row["parent_id"] else None
        if parent is not None:
            parent["children"].append(row)
        elif row["parent_id"] is None:
            top.append(row)
    return top


def checked_choice(
    service_id: int, category_ids: list[int], keep: set[int] = frozenset()
) -> list[int]:
    """The chosen categories if each is current and offered by the service (or already kept)."""
    chosen = list(dict.fromkeys(category_ids))
    if not chosen:
        raise InvalidCategories()
    rows = {c.id: c for c in db.session.scalars(select(Category).where(Category.id.in_(chosen)))}
    offered = set(
        db.session.scalars(
            select(ServiceCategory.category_id).where(ServiceCategory.service_id == service_id)
        )
    )
    for category_id in chosen:
        category = rows.get(category_id)
        if category_id in keep:
            continue
        if category is None:
            raise InvalidCategories("One of the chosen categories does not exist any more.")
        if category.retired_at is not None:
            raise InvalidCategories(f"{category.name} is no longer offered; choose another.")
        if category_id not in offered and category.parent_id not in offered:
            raise InvalidCategories(f"{category.name} is not a category of this service.")
    return chosen


def create(user: StaffUser, name: str, parent_id: int | None = None) -> Category:
    """Add a category (or a subcategory under `parent_id`) at the end of the list."""
    require(user, "manage_categories")
    parent = None
    if parent_id is not None:
        parent = db.session.get(Category, parent_id)
        if parent is None:
            raise NotFound("That category does not exist.")
        if parent.parent_id is not None:
            raise InvalidState("Subcategories cannot have subcategories of their own.")
    slug = _unique_slug(name)
    last = db.session.scalar(select(func.max(Category.position))) or 0
    category = Category(slug=slug, name=name.strip(), parent_id=parent_id, position=last + 1)
    db.session.add(category)
    db.session.flush()
    if parent is not None:
        # A subcategory is offered wherever its parent is.
        for service_id in db.session.scalars(
            select(ServiceCategory.service_id).where(ServiceCategory.category_id == parent.id)
        ):
            db.session.add(ServiceCategory(service_id=service_id, category_id=category.id))
    _audit(user, "category.create", {"category": category.id, "name": category.name})
    db.session.commit()
    return category


def rename(user: StaffUser, category_id: int, name: str) -> Category:
    """Give a category a new name; contacts tagged with it keep it."""
    require(user, "manage_categories")
    category = _get(category_id)
    before = category.name
    category.name = name.strip()
    _audit(user, "category.rename", {"category": category.id, "from": before, "to": category.name})
    db.session.commit()
    return category


def move(user: StaffUser, category_id: int, offset: int) -> None:
    """Move a category up (-1) or down (+1) among its siblings."""
    require(user, "manage_categories")
    category = _get(category_id)
    siblings = list(
        db.session.scalars(
            select(Category)
            .where(
                Category.parent_id.is_(None)
                if category.parent_id is None
                else Category.parent_id == category.parent_id
            )
            .order_by(Category.position, Category.id)
        )
    )
    index = siblings.index(category)
    target = index + offset
    if not 0 <= target < len(siblings):
        db.session.rollback()
        return
    siblings[index], siblings[target] = siblings[target], siblings[index]
    for position, sibling in enumerate(siblings):
        sibling.position = position
    _audit(user, "category.move", {"category": category.id, "offset": offset})
    db.session.commit()


def retire(user: StaffUser, category_id: int, retired: bool = True) -> Category:
    """Stop offering a category (or offer it again); its past use stays in every report."""
    require(user, "manage_categories")
    category = _get(category_id)
    category.retired_at = utcnow() if retired else None
    _audit(user, "category.retire" if retired else "category.restore", {"category": category.id})
    db.session.commit()
    return category


def remove(user: StaffUser, category_id: int) -> None:
    """Delete a category that was never used; a used one can only be retired."""
    require(user, "manage_categories")
    category = _get(category_id)
    ids = [
        category.id,
        *db.session.scalars(select(Category.id).where(Category.parent_id == category.id)),
    ]
    used = db.session.scalar(
        select(func.count())
        .select_from(ConversationCategory)
        .where(ConversationCategory.category_id.in_(ids))
    )
    if used:
        db.session.rollback()
        raise CategoryInUse()
    db.session.execute(delete(ServiceCategory).where(ServiceCategory.category_id.in_(ids)))
    for child_id in ids[1:]:
        db.session.delete(db.session.get(Category, child_id))
    db.session.flush()
    db.session.delete(category)
    _audit(user, "category.delete", {"category": category_id, "name": category.name})
    db.session.commit()


def offer(user: StaffUser, category_id: int, service_slugs: list[str]) -> None:
    """Set which services offer a category (its subcategories follow)."""
    require(user, "manage_categories")
    category = _get(category_id)
    services = list(db.session.scalars(select(Service).where(Service.slug.in_(service_slugs))))
    if len(services) != len(set(service_slugs)):
        raise NotFound("One of those services does not exist.")
    ids = [
        category.id,
        *db.session.scalars(select(Category.id).where(Category.parent_id == category.id)),
    ]
    db.session.execute(delete(ServiceCategory).where(ServiceCategory.category_id.in_(ids)))
    for service in services:
        for each in ids:
            db.session.add(ServiceCategory(service_id=service.id, category_id=each))
    _audit(user, "category.offer", {"category": category.id, "services": sorted(service_slugs)})
    db.session.commit()


_tagged = ConversationCategory.__table__
_categories = Category.__table__
_names_statement = (
    select(_tagged.c.conversation_id, _categories.c.id, _categories.c.name)
    .join(_categories, _categories.c.id == _tagged.c.category_id)
    .where(_tagged.c.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(_categories.c.position, _categories.c.id)
)


def names_of(conversation_ids: list[int]) -> dict[int, list[dict]]:
    """The categories of each conversation, in taxonomy order (a Core statement built once)."""
    if not conversation_ids:
        return {}
    rows = db.session.connection().execute(_names_statement, {"ids": conversation_ids})
    found: dict[int, list[dict]] = {}
    for conversation_id, category_id, name in rows:
        found.setdefault(conversation_id, []).append({"id": category_id, "name": name})
    return found


def _get(category_id: int) -> Category:
    category = db.session.get(Category, category_id)
    if category is None:
        raise NotFound("That category does not exist.")
    return category


def _unique_slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")[:50] or "category"
    slug, number = base, 1
    while db.session.scalar(select(Category.id).where(Category.slug == slug)) is not None:
        number += 1
        slug = f"{base}_{number}"
    return slug


def _audit(user: StaffUser, action: str, detail: dict) -> None:
    db.session.add(AuditEntry(actor_id=user.id, action=action, conversation_id=None, detail=detail))
