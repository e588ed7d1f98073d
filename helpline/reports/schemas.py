"""What the report pages accept: a year or a date range, a service, and the print layout."""

from datetime import date

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from helpline.text import Text

# Longer ranges are no annual report any more, and would scan several years of contacts.
MAX_YEARS = 3


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class ReportQuery(Schema):
    """`?year=2026` or `?from=2026-01-01&to=2026-03-31`, optionally `&service=<slug>`."""

    class Meta:
        unknown = EXCLUDE

    year = fields.Integer(
        validate=validate.Range(2000, 2100, error="Choose a year between 2000 and 2100."),
        error_messages={"invalid": "The year must be a number, e.g. 2026."},
    )
    first = fields.Date(
        data_key="from",
        format="%Y-%m-%d",
        error_messages={"invalid": "“From” must be a date written as YYYY-MM-DD."},
    )
    last = fields.Date(
        data_key="to",
        format="%Y-%m-%d",
        error_messages={"invalid": "“To” must be a date written as YYYY-MM-DD."},
    )
    service = Text(
        load_default=None,
        validate=validate.Length(max=40, error="Unknown service."),
    )
    print = fields.Boolean(load_default=False)

    @pre_load
    def drop_empty(self, data, **kwargs):
        # An empty form field means "not chosen", e.g. "All services" or no range.
        return {key: value for key, value in data.items() if str(value).strip() != ""}

    @validates_schema
    def one_period(self, data, **kwargs):
        has_range = "first" in data or "last" in data
        if has_range and "year" in data:
            raise ValidationError("Choose either a year or a date range, not both.", "year")
        if has_range:
            if "first" not in data:
                raise ValidationError("Give the first day of the range.", "from")
            if "last" not in data:
                raise ValidationError("Give the last day of the range.", "to")
            if data["last"] < data["first"]:
                raise ValidationError("“To” must be on or after “From”.", "to")
            if data["last"] >= _years_later(data["first"], MAX_YEARS):
                raise ValidationError(
                    f"A report covers at most {MAX_YEARS} years; choose a shorter range.", "to"
                )
