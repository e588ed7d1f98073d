"""The staff header: one entry per staff page, each shown to whoever `can` allows its action.

To add a staff page to the header, add one line to STAFF_PAGES, in the place it should appear:

    StaffPage("Canned responses", "canned.index", "manage_canned_responses"),

The label is English (staff pages are), the endpoint is what `url_for` takes, and the action is
a row of RULES in helpline/inbox/permissions.py, asked with the person as its target (so a rule
that allows only oneself, SELF, shows one's own page). Nothing else changes: the header lists the
entries the signed-in person may use, and tests/test_staff_navigation.py checks every role.
"""

from typing import NamedTuple

from flask import request, url_for
from flask_login import current_user

from helpline.auth.models import StaffUser
from helpline.inbox.permissions import can


class StaffPage(NamedTuple):
    """A page in the staff header: its label, its endpoint, and the action that shows it."""

    label: str
    endpoint: str
    action: str


STAFF_PAGES: list[StaffPage] = [
    StaffPage("Inbox", "inbox.index", "watch_queue"),
    StaffPage("Agenda", "followup.agenda", "view_agenda"),
    StaffPage("Availability", "followup.availability", "manage_availability"),
    StaffPage("Reports", "reports.report", "view_reports"),
    StaffPage("API tokens", "api_tokens.tokens", "manage_api_tokens"),
    StaffPage("Categories", "admin.category_list", "manage_categories"),
    StaffPage("Canned responses", "canned.responses", "manage_canned_responses"),
    StaffPage("Blocked visitors", "abuse.blocks", "view_blocks"),
    StaffPage("Search", "search.page", "search_conversations"),
    StaffPage("Board", "inbox.board", "view_board"),
    StaffPage("Account", "auth.account", "manage_own_account"),
]

# Where a role starts after signing in, when the page is theirs; anyone else starts on the first
# page of STAFF_PAGES they may use (the inbox, for counsellors and supervisors).
LANDING_PAGES: dict[str, str] = {
    "therapist": "followup.agenda",
    "admin": "admin.category_list",
}


class HeaderLink(NamedTuple):
    """A link of the header as the template shows it."""

    label: str
    url: str
    current: bool


def pages_for(user: StaffUser) -> list[StaffPage]:
    """The staff pages `user` may use, in the header's order."""
    # Asked about the person themself, so that a page of one's own (a SELF rule) counts.
    return [page for page in STAFF_PAGES if can(user, page.action, user)]


def header_links() -> list[HeaderLink]:
    """The signed-in person's header links, the page being shown marked current."""
    return [
        HeaderLink(page.label, url_for(page.endpoint), request.endpoint == page.endpoint)
        for page in pages_for(current_user)
    ]


def landing_url(user: StaffUser) -> str:
    """Where `user` starts after signing in: their role's page, else their first page."""
    allowed = {page.endpoint for page in pages_for(user)}
    chosen = LANDING_PAGES.get(user.role)
    if chosen in allowed:
        return url_for(chosen)
    first = next(iter(pages_for(user)), None)
    return url_for(first.endpoint if first else "auth.account")
