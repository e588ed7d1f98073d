"""The report pages for supervisors: figures, charts, printable view and CSV tables."""

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox.models import Service
from helpline.inbox.permissions import can
from helpline.reports import charts, figures, tables
from helpline.reports.figures import Period
from helpline.reports.schemas import ReportQuery
from helpline.timeutil import local_today, to_local, utcnow

bp = Blueprint("reports", __name__, url_prefix="/reports")


class InvalidQuery(Exception):
    """The period or service asked for cannot be reported; `messages` says why, per field."""

    def __init__(self, messages: dict, values: dict):
        super().__init__(messages)
        self.messages = messages
        self.values = values


@bp.before_request
@login_required
def leads_only():
    # Aggregates only, but of every contact: supervisors and admins.
    if not can(current_user, "view_reports"):
        abort(403, "Only supervisors and admins can see the reports.")


@bp.errorhandler(InvalidQuery)
def invalid_query(error: InvalidQuery):
    messages = [m for field in error.messages.values() for m in _flatten(field)]
    if request.path.endswith(".csv"):
        return Response("\n".join(messages) + "\n", 422, mimetype="text/plain")
    return (
        render_template(
            "reports/report.html",
            errors=messages,
            values=error.values,
            services=_services(),
            result=None,
            printing=False,
        ),
        422,
    )


@bp.get("")
def report():
    query = _query()
    result = figures.report(query["period"], query["service"])
    by_service = tables.services(result.services) if query["service"] is None else None
    return render_template(
        "reports/report.html",
        result=result,
        tables=tables.report_tables(result),
        by_service=by_service,
        charts=charts.report_charts(result),
        display=tables.display,
        service=query["service_obj"],
        services=_services(),
        values=query["values"],
        period_values={k: v for k, v in query["values"].items() if k != "service"},
        generated=to_local(utcnow()).strftime("%-d %B %Y, %H:%M"),
        errors=[],
        printing=query["print"],
    )


@bp.get("/<name>.csv")
def table_csv(name: str):
    if name not in tables.TABLE_NAMES:
        abort(404, f"There is no table called {name!r}.")
    query = _query()
    if name == "services":
        table = tables.services(figures.by_service(query["period"]))
    else:
        table = tables.report_tables(figures.report(query["period"], query["service"]))[name]
    period = query["period"]
    filename = (
        f"report-{name}-{query['service'] or 'all-services'}-{period.first}_{period.last}.csv"
    )
    return Response(
        # A byte-order mark, so that spreadsheet programs read the UTF-8 correctly.
        "\ufeff" + tables.to_csv(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _query() -> dict:
    """The period and service of the request, validated; raises InvalidQuery."""
    values = request.args.to_dict()
    try:
        loaded = ReportQuery().load(values)
    except ValidationError as error:
        raise InvalidQuery(error.messages, values) from None
    if "first" in loaded:
        period = Period(loaded["first"], loaded["last"])
    else:
        period = Period.year(loaded.get("year") or local_today().year)
    service = None
    if loaded["service"]:
        service = db.session.scalar(select(Service).where(Service.slug == loaded["service"]))
        if service is None:
            raise InvalidQuery({"service": ["Unknown service."]}, values)
    shown = {"service": loaded["service"] or ""}
    if "first" in loaded:
        shown.update({"from": period.first.isoformat(), "to": period.last.isoformat()})
    else:
        shown["year"] = period.first.year
    return {
        "period": period,
        "service": loaded["service"],
        "service_obj": service,
        "print": loaded["print"],
        "values": shown,
    }


def _services() -> list[Service]:
    return list(db.session.scalars(select(Service).order_by(Service.id)))


def _flatten(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]
