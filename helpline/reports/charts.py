"""Charts as inline SVG drawn on the server: no script, no third-party request, printable.

Every chart has a title and a description for screen readers, text labels on the bars, and a
<title> per shape for a tooltip; the numbers are always in the table next to it as well.
Colours come from classes in static/css/report.css (the CSP allows no inline styles).
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

from helpline.reports.figures import WEEKDAYS
from helpline.reports.tables import CHANNEL_NAMES, FUNNEL_STAGES, QUESTION_NAMES, TIME_MEASURES

WIDTH = 640
BAR = 22
GAP = 10
CHAR = 7.2  # average width of a 12px label character, to size the label column
_ids = itertools.count(1)


def _svg(title: str, description: str, height: float, body: list[str]) -> Markup:
    uid = f"chart-{next(_ids)}"
    # Every piece of text in `body` went through escape() above.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{uid}-t">{escape(title)}</title>'
        f'<desc id="{uid}-d">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _text(x, y, content, cls="label", anchor="start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def _rect(x, y, w, h, cls, tooltip) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" class="{cls}">'
        f"<title>{escape(tooltip)}</title></rect>"
    )


def _fmt(value) -> str:
    return "\u2013" if value is None else (f"{value:,}" if isinstance(value, int) else f"{value:g}")


@dataclass(frozen=True)
class _Plot:
    """Where the bars of one chart go: from `left`, `width` pixels for values up to `top`."""

    left: float
    width: float
    top: float
    value_label: Callable

    def length(self, value) -> float:
        """The length of the bar for this value (None draws nothing)."""
        return self.width * (value or 0) / self.top


def bars(
    title: str,
    rows: list[tuple[str, list]],
    series: list[str],
    *,
    stacked: bool = False,
    unit: str = "",
    scale: float | None = None,
    value_label=None,
) -> Markup:
    """Horizontal bars, one row per label: stacked or side by side for several series."""
    value_label = value_label or (lambda v: f"{_fmt(v)}{unit}")
    label_width = max([len(label) for label, _ in rows] + [4]) * CHAR + 12
    value_width = 90
    if stacked:
        top = max([sum(v or 0 for v in values) for _, values in rows] + [0])
    else:
        top = max([v or 0 for _, values in rows for v in values] + [0])
    plot = _Plot(label_width, WIDTH - label_width - value_width, scale or top or 1, value_label)
    per_row = BAR if stacked else BAR * len(series) * 0.8
    draw_row = _stacked_row if stacked else _side_by_side_row
    legend = 24 if len(series) > 1 else 0
    body = _legend(series, label_width) if legend else []
    y = legend + 4
    for label, values in rows:
        body.append(_text(label_width - 8, y + per_row / 2 + 4, label, "label", "end"))
        body += draw_row(plot, label, values, series, y, per_row)
        y += per_row + GAP
    body.insert(
        0,
        f'<line x1="{label_width:.1f}" y1="{legend:.1f}" x2="{label_width:.1f}" '
        f'y2="{y - GAP + 4:.1f}" class="axis"/>',
    )
    description = "; ".join(
        f"{label}: "
        + ", ".join(f"{name} {value_label(v)}" for name, v in zip(series, values, strict=True))
        for label, values in rows
    )
    return _svg(title, description, y + 4, body)


def _legend(series: list[str], x: float) -> list[str]:
    body = []
    for index, name in enumerate(series):
        body.append(f'<rect x="{x:.1f}" y="6" width="12" height="12" class="series-{index}"/>')
        body.append(_text(x + 16, 16, name, "legend"))
        x += 16 + len(name) * CHAR + 20
    return body


def _stacked_row(
    plot: _Plot, label: str, values: list, series: list[str], y: float, height: float
) -> list[str]:
    body = []
    x = plot.left
    for index, value in enumerate(values):
        width = plot.length(value)
        tooltip = f"{label}, {series[index]}: {plot.value_label(value)}"
        body.append(_rect(x, y, width, height, f"series-{index}", tooltip))
        x += width
    total = plot.value_label(sum(v or 0 for v in values))
    body.append(_text(x + 6, y + height / 2 + 4, total, "value"))
    return body


def _side_by_side_row(
    plot: _Plot, label: str, values: list, series: list[str], y: float, height: float
) -> list[str]:
    body = []
    # The row's height is shared by its bars, one per series.
    height = height / len(series)
    for index, value in enumerate(values):
        width = plot.length(value)
        bar_y = y + index * height
        name = f"{label}, {series[index]}" if len(series) > 1 else label
        shown = plot.value_label(value)
        body.append(
            _rect(plot.left, bar_y, width, height - 2, f"series-{index}", f"{name}: {shown}")
        )
        cls = "value small" if len(series) > 1 else "value"
        body.append(_text(plot.left + width + 6, bar_y + height / 2 + 3, shown, cls))
    return body


def funnel(title: str, stages: list[tuple[str, int, float | None]]) -> Markup:
    """A centred funnel: each stage a bar as wide as its share of the first (booked)."""
    top = max([count for _, count, _ in stages] + [1])
    label_width = 190
    plot = WIDTH - label_width - 130
    centre = label_width + plot / 2
    body = []
    y = 4
    for index, (label, count, percent) in enumerate(stages):
        width = max(plot * count / top, 2)
        shown = f"{count:,}" + ("" if percent is None or index == 0 else f" ({percent:g}%)")
        body.append(_text(label_width - 8, y + BAR / 2 + 4, label, "label", "end"))
        body.append(
            _rect(centre - width / 2, y, width, BAR, f"funnel-{index}", f"{label}: {shown}")
        )
        body.append(_text(label_width + plot + 8, y + BAR / 2 + 4, shown, "value"))
        y += BAR + 6
    description = "; ".join(
        f"{label} {count}" + ("" if p is None else f" ({p:g}% of booked)")
        for label, count, p in stages
    )
    return _svg(title, description, y, body)


def heat_map(title: str, grid: list[list[int]]) -> Markup:
    """Weekdays (rows) by hours (columns); darker cells hold more contact moments."""
    left, head, cell_h = 44, 22, 26
    cell_w = (WIDTH - left - 4) / 24
    top = max(max(row) for row in grid) or 1
    body = []
    for hour in range(0, 24, 2):
        body.append(_text(left + hour * cell_w + cell_w / 2, 14, f"{hour:02d}", "tick", "middle"))
    busiest = (0, 0, 0)
    for day, row in enumerate(grid):
        y = head + day * cell_h
        body.append(_text(left - 6, y + cell_h / 2 + 4, WEEKDAYS[day], "label", "end"))
        for hour, count in enumerate(row):
            level = 0 if count == 0 else 1 + min(5, int(5 * count / top))
            busiest = max(busiest, (count, -day, -hour))
            body.append(
                _rect(
                    left + hour * cell_w + 1,
                    y + 1,
                    cell_w - 2,
                    cell_h - 2,
                    f"heat-{level}",
                    f"{WEEKDAYS[day]} {hour:02d}:00\u2013{hour + 1:02d}:00: "
                    f"{count:,} contact moments",
                )
            )
    legend_y = head + 7 * cell_h + 8
    body.append(_text(left, legend_y + 11, "Fewer", "tick"))
    for level in range(7):
        body.append(
            f'<rect x="{left + 44 + level * 18:.1f}" y="{legend_y}" width="16" height="14" '
            f'class="heat-{level}"/>'
        )
    body.append(_text(left + 44 + 7 * 18 + 6, legend_y + 11, "More", "tick"))
    count, day, hour = busiest
    description = (
        f"Busiest hour: {WEEKDAYS[-day]} {-hour:02d}:00 with {count:,} contact moments."
        if count
        else "No contact moments in this period."
    )
    return _svg(title, description, legend_y + 20, body)


def report_charts(result) -> dict[str, Markup]:
    """The charts of one report (helpline.reports.figures.Report), by table name."""
    made = {
        "moments": bars(
            "Contact moments per channel",
            [
                (CHANNEL_NAMES[c], [v["inbound"], v["callback"]])
                for c, v in result.moments["channels"].items()
            ],
            ["Inbound", "Callbacks"],
            stacked=True,
        ),
        "people": bars(
            "Unique people and contact moments per channel",
            [
                (CHANNEL_NAMES[c], [v["unique"], v["moments"]])
                for c, v in result.people["channels"].items()
            ],
            ["Unique people", "Contact moments"],
        ),
        "categories": _categories_chart(result),
        "growth": bars(
            "This period against the previous period",
            [
                ("Contact moments", list(result.growth["moments"])),
                ("Unique people", list(result.growth["people"])),
            ],
            ["Previous period", "This period"],
        ),
        "funnel": _funnel_chart(result),
        "survey": _survey_chart(result),
        "times": _times_chart(result),
        "week": heat_map("Contact moments by weekday and hour", result.week),
    }
    return {name: chart for name, chart in made.items() if chart is not None}


def _categories_chart(result) -> Markup | None:
    # The last row holds the unique totals.
    if len(result.categories) <= 1:
        return None
    return bars(
        "Contacts per category",
        [(row["name"], [row["contacts"]]) for row in result.categories[:-1]],
        ["Contacts"],
    )


def _funnel_chart(result) -> Markup | None:
    if not result.funnel["booked"]:
        return None
    return funnel(
        "Follow-up funnel",
        [("Booked", result.funnel["booked"], 100.0)]
        + [
            (label, result.funnel[key], result.funnel["percent"][key])
            for key, label in FUNNEL_STAGES
            if key in ("held", "no_show", "referred")
        ],
    )


def _survey_chart(result) -> Markup | None:
    if not result.survey["n"]:
        return None
    return bars(
        f"Survey: share answering yes (n = {result.survey['n']})",
        [(QUESTION_NAMES.get(q, q), [v["percent"]]) for q, v in result.survey["questions"].items()],
        ["% yes"],
        unit="%",
        scale=100,
    )


def _times_chart(result) -> Markup | None:
    rows = [
        (f"{TIME_MEASURES[m]}, {CHANNEL_NAMES[c]}", [_minutes(v["median"]), _minutes(v["p90"])])
        for m in TIME_MEASURES
        for c, v in result.times[m].items()
        if v["n"]
    ]
    if not rows:
        return None
    return bars(
        "Median waiting and first-response time, minutes",
        rows,
        ["Median", "90th percentile"],
        unit=" min",
    )


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)
