"""One chart spec for the three ways a dashboard shows its numbers: the Chart.js canvas
(static/js/charts.js reads the spec from a json_script block), the table one click away
(templates/partials/_chart.html renders the same spec) and the CSV export (`?export=<key>`).
Views turn selector results into `Chart`s; nothing here queries the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from prm.web import csv_response

KINDS = ("bar", "line")
UNITS = ("money", "percent", "count")


def _number(value):
    """JSON-safe numbers: Decimals become floats rounded to cents, None stays None."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return round(float(value), 2)
    return value


@dataclass
class Dataset:
    label: str
    data: list
    type: str | None = None  # "line" inside a bar chart: a target, a commit
    table_only: bool = False  # shown in the table and the CSV, not drawn
    dashed: bool = False
    fill: bool = False
    color: str | None = None
    unit: str | None = None  # when it differs from the chart's (a count beside money)

    def as_json(self) -> dict:
        out = {"label": str(self.label), "data": [_number(v) for v in self.data]}
        for key in ("type", "table_only", "dashed", "fill", "color"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass
class Chart:
    key: str  # stable: the `?export=` value, the DOM ids, the CSV file name
    title: str
    x_label: str  # the table's first column
    labels: list
    datasets: list[Dataset] = field(default_factory=list)
    kind: str = "bar"
    unit: str = "money"
    stacked: bool = False
    y_max: float | None = None
    note: str = ""  # one line under the title (e.g. the top 5 % / 20 % shares)
    x_title: bool = False  # show `x_label` under the x axis (when the labels alone are bare numbers)
    export_url: str = ""  # set by `with_export_urls`: this page, its filters, `export=<key>`

    def __post_init__(self):
        assert self.kind in KINDS and self.unit in UNITS, (self.kind, self.unit)

    @property
    def is_empty(self) -> bool:
        return not self.labels or not any(v for d in self.datasets for v in d.data if v)

    def spec(self) -> dict:
        return {
            "kind": self.kind,
            "unit": self.unit,
            "stacked": self.stacked,
            "y_max": self.y_max,
            "x_title": str(self.x_label) if self.x_title else "",
            "labels": [str(label) for label in self.labels],
            "datasets": [d.as_json() for d in self.datasets],
        }

    @property
    def dom_id(self) -> str:
        return f"chart-data-{self.key}"

    def table(self) -> list[tuple]:
        """Rows for the HTML table: (label, [(value, unit), ...]) so each cell formats by its unit."""
        units = [d.unit or self.unit for d in self.datasets]
        return [
            (label, [(d.data[i], units[j]) for j, d in enumerate(self.datasets)]) for i, label in enumerate(self.labels)
        ]

    def header(self) -> list[str]:
        return [str(self.x_label), *[str(d.label) for d in self.datasets]]

    def rows(self) -> list[list]:
        return [[label, *[d.data[i] for d in self.datasets]] for i, label in enumerate(self.labels)]

    def csv(self, filename_prefix: str = "dashboard"):
        return csv_response([self.header(), *self.rows()], f"{filename_prefix}-{self.key}.csv")


def with_export_urls(request, charts: list[Chart]) -> list[Chart]:
    """Give each chart the link to its CSV: the current page with its filters and `export=<key>`."""
    for chart in charts:
        query = request.GET.copy()
        query["export"] = chart.key
        chart.export_url = f"{request.path}?{query.urlencode()}"
    return charts


def export_response(request, charts: list[Chart], filename_prefix: str = "dashboard"):
    """The CSV of `?export=<key>` when it names one of `charts`, else None (the page renders)."""
    key = request.GET.get("export")
    if not key:
        return None
    for chart in charts:
        if chart.key == key:
            return chart.csv(filename_prefix)
    return None
