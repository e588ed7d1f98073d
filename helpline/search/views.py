"""The staff search page, /inbox/search: a form of filters and a page of conversations found."""

from datetime import datetime

from flask import Blueprint, render_template, request
from flask_babel import format_datetime
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox import categories
from helpline.inbox.models import CHANNELS, STATES, Service
from helpline.inbox.permissions import require
from helpline.search import service
from helpline.search.schemas import SearchPage, SearchQuery

bp = Blueprint("search", __name__)


@bp.get("/inbox/search")
@login_required
def page():
    user = current_user._get_current_object()
    require(user, "search_conversations")
    asked = request.args.to_dict()
    found, errors = None, {}
    if asked:
        try:
            found = service.search(user, SearchQuery().load(asked))
        except ValidationError as error:
            errors = {name: _first(problem) for name, problem in error.messages.items()}
    answer = render_template(
        "search/search.html",
        me=user,
        asked=asked,
        found=found,
        next_cursor=SearchPage(only=("next",)).dump(found)["next"] if found else None,
        errors=errors,
        services=db.session.scalars(select(Service).order_by(Service.id)).all(),
        category_tree=categories.tree(include_retired=True),
        channels=CHANNELS,
        states=STATES,
    )
    return answer, 422 if errors else 200


@bp.app_template_filter("opened")
def opened(moment: str) -> str:
    """A row's ISO 8601 UTC time as a local date and time, e.g. 2 Mar 2026, 10:00."""
    return format_datetime(datetime.fromisoformat(moment.removesuffix("Z")), "d MMM y, HH:mm")


def _first(problem) -> str:
    while isinstance(problem, list | dict):
        problem = next(iter(problem.values() if isinstance(problem, dict) else problem), "")
    return str(problem)
