"""Staff dashboards (the `staff:` namespace): the channel manager's home page, the KPI
scorecard, forecasts, the reactivation queue and the health fragment of the partner page.

Charts first, the table and the CSV one click away: each view turns `deals.dashboard`
selector results into `deals.views.charts.Chart`s; `?export=<chart key>` answers that chart's
CSV. The numbers are the selectors' (scoped there: a manager's partners, a lead's team, all
for an administrator); these views only arrange them."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from deals import dashboard
from deals.forms.dashboard import DashboardFilterForm, KpiPeriodForm
from deals.selectors_leads import lead_funnel
from deals.views.charts import Chart, Dataset, export_response, with_export_urls
from partners.selectors import partner_get_for_user
from prm.dashboard import queue_cards
from prm.money import base_currency
from prm.permissions import StaffRequiredMixin
from prm.web import csv_response

REACTIVATION_PAGE_SIZE = 50
FORECAST_PAGE_SIZE = 50


def _pct(value):
    """Shares from the selectors are fractions (0.42); pages show percentages (42.0)."""
    return None if value is None else round(float(value) * 100, 1)


# --- the channel manager dashboard ---------------------------------------------------------


def _lead_funnel(partners, filters) -> list[dict]:
    """The lead acceptance funnel of `partners` for leads offered in `filters`' period: offered →
    accepted → won (distinct leads, one query)."""
    start, end = filters.period()
    since = timezone.make_aware(dt.datetime.combine(start, dt.time.min))
    until = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    funnel = lead_funnel(partners=partners, since=since, until=until)
    return [
        {"label": _("Offered"), "count": funnel.offered},
        {"label": _("Accepted"), "count": funnel.accepted},
        {"label": _("Won"), "count": funnel.won},
    ]


def dashboard_charts(*, partners, filters) -> list[Chart]:
    stages = dashboard.pipeline_by_stage(partners=partners)
    quarters = dashboard.pipeline_by_quarter(partners=partners)
    # The monthly charts show as many months as the period spans, ending this month.
    months = filters.months()
    by_tier = dashboard.revenue_by_tier_by_month(partners=partners, months=months)
    since, until = filters.period()
    concentration = dashboard.revenue_concentration(partners=partners, since=since, until=until)
    activity = dashboard.active_dormant_by_month(partners=partners, months=months)
    currency = base_currency()
    curve = concentration["curve"]  # [[% of partners, % of revenue]] at 0, 1, … 100 % of partners
    charts = [
        Chart(
            key="pipeline_by_stage",
            title=_("Pipeline by stage (%(currency)s)") % {"currency": currency},
            x_label=_("Stage"),
            labels=[row["label"] for row in stages],
            datasets=[
                Dataset(_("Value"), [row["value"] for row in stages]),
                Dataset(_("Weighted"), [row["weighted"] for row in stages]),
                Dataset(_("Registrations"), [row["count"] for row in stages], table_only=True, unit="count"),
            ],
        ),
        Chart(
            key="forecast_vs_target",
            title=_("Weighted pipeline and forecast vs target (%(currency)s)") % {"currency": currency},
            x_label=_("Quarter"),
            labels=[row["label"] for row in quarters],
            datasets=[
                Dataset(_("Weighted pipeline"), [row["weighted"] for row in quarters]),
                Dataset(_("Forecast"), [row["forecast"] for row in quarters]),
                Dataset(_("Target"), [row["target"] for row in quarters], type="line", color="#dc3545"),
                Dataset(_("Commit"), [row["commit"] for row in quarters], type="line", dashed=True, color="#6c757d"),
            ],
        ),
        Chart(
            key="revenue_by_tier",
            title=ngettext(
                "Revenue by tier, last %(months)s month (%(currency)s)",
                "Revenue by tier, last %(months)s months (%(currency)s)",
                months,
            )
            % {"months": months, "currency": currency},
            x_label=_("Month"),
            labels=by_tier["labels"],
            datasets=[Dataset(series["tier"], series["values"]) for series in by_tier["series"]],
            stacked=True,
        ),
        Chart(
            key="revenue_concentration",
            title=_("Revenue concentration (Pareto)"),
            x_label=_("Share of partners, %"),
            labels=[x for x, _y in curve],
            datasets=[
                Dataset(_("Share of revenue, %"), [y for _x, y in curve], fill=True),
                # The diagonal: what the curve would be if every partner sold the same.
                Dataset(_("Equal shares, %"), [x for x, _y in curve], dashed=True, color="#adb5bd"),
            ],
            x_title=True,
            kind="line",
            unit="percent",
            y_max=100,
            note=_(
                "Top 5 %% of partners: %(top5)s %% of revenue; top 20 %%: %(top20)s %% "
                "(%(count)s partners with revenue in the period)."
            )
            % {
                "top5": _pct(concentration["top5_share"]) or 0,
                "top20": _pct(concentration["top20_share"]) or 0,
                "count": concentration["partners_with_revenue"],
            },
        ),
        Chart(
            key="active_dormant",
            title=ngettext(
                "Active and dormant partners, last %(months)s month",
                "Active and dormant partners, last %(months)s months",
                months,
            )
            % {"months": months},
            x_label=_("Month"),
            labels=[row["label"] for row in activity],
            datasets=[
                Dataset(_("Active"), [row["active"] for row in activity], color="#198754"),
                Dataset(_("Dormant"), [row["dormant"] for row in activity], color="#adb5bd"),
            ],
            unit="count",
            stacked=True,
        ),
    ]
    funnel = _lead_funnel(partners, filters)
    if funnel is not None:
        charts.append(
            Chart(
                key="lead_funnel",
                title=_("Lead acceptance funnel"),
                x_label=_("Stage"),
                labels=[row["label"] for row in funnel],
                datasets=[Dataset(_("Leads"), [row["count"] for row in funnel])],
                unit="count",
            )
        )
    return charts


class DashboardView(StaffRequiredMixin, View):
    def get(self, request):
        form = DashboardFilterForm(request.GET or None, user=request.user)
        form.is_valid()  # invalid parameters are dropped, the rest still filters
        filters = dashboard.DashboardFilters(**form.values())
        partners = dashboard.dashboard_partners(user=request.user, filters=filters)
        charts = dashboard_charts(partners=partners, filters=filters)
        dashboard.dashboard_viewed(user=request.user)  # keeps this user's numbers warm for a while
        export = export_response(request, charts)
        if export is not None:
            return export
        context = {
            "form": form,
            "filters": filters,
            "cards": queue_cards(request.user, partners),
            "charts": with_export_urls(request, charts),
            "has_filters": any(v for k, v in request.GET.items() if k != "export"),
        }
        return render(request, "staff/dashboard/home.html", context)


# --- KPI scorecard -------------------------------------------------------------------------


KPI_COLUMNS = [
    ("manager_name", gettext_lazy("Channel manager")),
    ("active_partners", gettext_lazy("Active partners")),
    ("partners", gettext_lazy("Partners")),
    ("target", gettext_lazy("Target")),
    ("revenue", gettext_lazy("Revenue")),
    ("fulfilment_pct", gettext_lazy("Fulfilment, %")),
    ("average_deal_size", gettext_lazy("Average deal size")),
    ("won_deals", gettext_lazy("Won deals")),
    ("revenue_last_year", gettext_lazy("Revenue a year earlier")),
    ("growth_per_partner", gettext_lazy("Growth per partner")),
    ("growth_pct", gettext_lazy("Growth, %")),
    ("reviews_decided", gettext_lazy("Reviews decided")),
    ("sla_kept_pct", gettext_lazy("Review SLA kept, %")),
]


def _manager_name(user) -> str:
    return user.full_name or user.email


class KpiScorecardView(StaffRequiredMixin, View):
    def get(self, request):
        form = KpiPeriodForm(request.GET or None)
        form.is_valid()
        year, quarter = form.period()
        rows = dashboard.kpi_scorecard(user=request.user, year=year, quarter=quarter)
        for row in rows:
            row["manager_name"] = _manager_name(row["manager"])
        period_label = dashboard.quarter_label(year, quarter)
        if request.GET.get("export") == "csv":
            table = [[str(label) for _key, label in KPI_COLUMNS]]
            table += [[row[key] for key, _label in KPI_COLUMNS] for row in rows]
            return csv_response(table, f"kpi-{period_label.replace(' ', '-')}.csv")
        chart = Chart(
            key="fulfilment",
            title=_("Sales-plan fulfilment, %(period)s") % {"period": period_label},
            x_label=_("Channel manager"),
            labels=[row["manager_name"] for row in rows],
            datasets=[
                Dataset(_("Fulfilment, %"), [row["fulfilment_pct"] for row in rows]),
                Dataset(_("Target"), [row["target"] for row in rows], table_only=True, unit="money"),
                Dataset(_("Revenue"), [row["revenue"] for row in rows], table_only=True, unit="money"),
            ],
            unit="percent",
        )
        with_export_urls(request, [chart])
        query = request.GET.copy()
        query["export"] = "csv"
        context = {
            "form": form,
            "rows": rows,
            "chart": chart,
            "period_label": period_label,
            "columns": KPI_COLUMNS,
            "csv_url": f"{request.path}?{query.urlencode()}",
            "currency": base_currency(),
        }
        if request.GET.get("export") == chart.key:
            return chart.csv("kpi")
        return render(request, "staff/dashboard/kpi.html", context)


# --- forecasts -----------------------------------------------------------------------------


class ForecastsView(StaffRequiredMixin, View):
    """The latest nightly forecast: the channel total as a chart, each partner in a table
    (paged by partner), with the method, its back-tested error and the commit beside it."""

    def get(self, request):
        partners = dashboard.dashboard_partners(user=request.user)
        totals = list(dashboard.forecast_snapshots(user=request.user, partners=partners).filter(partner__isnull=True))
        quarters = sorted({(s.year, s.quarter) for s in totals}) or dashboard.coming_quarters()
        labels = [dashboard.quarter_label(y, q) for y, q in quarters]
        total = {(s.year, s.quarter): s for s in totals}
        as_of = totals[0].as_of if totals else dashboard.latest_forecast_as_of()
        if request.GET.get("export") == "csv":
            snapshots = dashboard.forecast_snapshots(user=request.user, partners=partners)
            return csv_response(_forecast_csv_rows(snapshots.iterator(chunk_size=2000)), "forecasts.csv")
        chart = Chart(
            key="forecast_total",
            title=_("Channel total forecast for the coming quarters (%(currency)s)") % {"currency": base_currency()},
            x_label=_("Quarter"),
            labels=labels,
            datasets=[
                Dataset(_("Forecast"), [_snap(total, yq, "forecast") for yq in quarters]),
                Dataset(_("Weighted pipeline"), [_snap(total, yq, "weighted_pipeline") for yq in quarters]),
                Dataset(_("Commit"), [_snap(total, yq, "commit") for yq in quarters], type="line", dashed=True),
            ],
        )
        with_export_urls(request, [chart])
        if request.GET.get("export") == chart.key:
            return chart.csv("forecasts")
        with_forecast = partners.filter(forecast_snapshots__as_of=as_of).distinct().order_by("name", "pk")
        page = Paginator(with_forecast.only("pk", "name", "public_id"), FORECAST_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        page_ids = [p.pk for p in page.object_list]
        by_partner: dict[int, dict] = {pk: {} for pk in page_ids}
        if page_ids:
            for snap in dashboard.forecast_snapshots(user=request.user, partners=partners.filter(pk__in=page_ids)):
                if snap.partner_id is not None:
                    by_partner[snap.partner_id][(snap.year, snap.quarter)] = snap
        query = request.GET.copy()
        query["export"] = "csv"
        context = {
            "chart": chart,
            "quarters": labels,
            "total_cells": [total.get(yq) for yq in quarters],
            "rows": [{"partner": p, "cells": [by_partner[p.pk].get(yq) for yq in quarters]} for p in page.object_list],
            "page_obj": page,
            "as_of": as_of,
            "csv_url": f"{request.path}?{query.urlencode()}",
            "currency": base_currency(),
        }
        return render(request, "staff/dashboard/forecasts.html", context)


def _snap(snaps: dict, key, field: str):
    snap = snaps.get(key)
    return getattr(snap, field) if snap is not None else None


def _forecast_csv_rows(snapshots):
    yield [
        _("Partner"),
        _("Quarter"),
        _("Forecast"),
        _("Method"),
        _("Back-test error, %"),
        _("Error metric"),
        _("Seasonal naive forecast"),
        _("Model forecast"),
        _("Weighted pipeline"),
        _("Commit"),
        _("As of"),
    ]
    for snap in snapshots:
        yield [
            snap.partner.name if snap.partner_id else _("Channel total"),
            dashboard.quarter_label(snap.year, snap.quarter),
            snap.forecast,
            snap.get_method_display(),
            _pct(snap.error),
            snap.get_error_metric_display(),
            snap.naive_forecast,
            snap.model_forecast,
            snap.weighted_pipeline,
            snap.commit,
            snap.as_of.isoformat(),
        ]


# --- reactivation queue --------------------------------------------------------------------


class ReactivationQueueView(StaffRequiredMixin, View):
    def get(self, request):
        qs = dashboard.reactivation_queue(user=request.user)
        if request.GET.get("export") == "csv":
            return csv_response(_reactivation_csv_rows(qs), "reactivation-queue.csv")
        page = Paginator(qs, REACTIVATION_PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query["export"] = "csv"
        context = {
            "page_obj": page,
            "partners": page.object_list,
            "now": timezone.now(),
            "csv_url": f"{request.path}?{query.urlencode()}",
        }
        return render(request, "staff/dashboard/reactivation.html", context)


def _reactivation_csv_rows(qs):
    yield [_("Partner"), _("Tier"), _("Region"), _("Channel manager"), _("Last activity")]
    for partner in qs.iterator(chunk_size=1000):
        yield [
            partner.name,
            partner.tier.name if partner.tier else "",
            partner.get_region_display(),
            (partner.owner.full_name or partner.owner.email) if partner.owner else "",
            partner.last_activity_at.isoformat() if partner.last_activity_at else "",
        ]


# --- partner health (fragment on the staff partner page) -----------------------------------


class PartnerHealthFragmentView(StaffRequiredMixin, View):
    """Loaded by the partner page with hx-get, so the partners app never imports deals."""

    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        health = dashboard.partner_health_get(partner=partner)
        components = []
        if health is not None:
            for name, part in sorted((health.breakdown or {}).items(), key=lambda item: -item[1].get("weight", 0)):
                components.append(
                    {
                        "name": name,
                        "label": COMPONENT_LABELS.get(name, name.replace("_", " ").capitalize()),
                        "score": part.get("score"),
                        "weight_pct": _pct(part.get("weight")),
                        "detail": _component_detail(name, part.get("value")),
                    }
                )
        context = {"partner": partner, "health": health, "components": components}
        return render(request, "staff/dashboard/_partner_health.html", context)


ENGAGEMENT_SIGNALS = {
    "registrations_90d": gettext_lazy("registrations in 90 days: %(value)s"),
    "logins_30d": gettext_lazy("people logged in within 30 days: %(value)s"),
    "lead_acceptance": gettext_lazy("lead acceptance score: %(value)s"),
}


def _component_detail(name: str, value) -> str:
    """The raw figure behind a component's score, in words (deals.services.health defines them)."""
    if value is None or value == {}:
        return _("no data yet")
    if name == "revenue_trend":
        return _("last 90 days vs the 90 before: ×%(value)s") % {"value": value}
    if name == "pipeline":
        return _("weighted pipeline covers ×%(value)s of a quarter's revenue") % {"value": value}
    if name == "enablement":
        return _("certified people: %(value)s") % {"value": value}
    if name == "relationship":
        return _("last interaction %(value)s days ago") % {"value": value}
    if isinstance(value, dict):
        # JSONB does not keep key order: known signals in their order, then any others by name.
        keys = [k for k in ENGAGEMENT_SIGNALS if k in value] + sorted(k for k in value if k not in ENGAGEMENT_SIGNALS)
        return "; ".join(
            str(ENGAGEMENT_SIGNALS.get(key, key.replace("_", " ") + ": %(value)s")) % {"value": value[key]}
            for key in keys
        )
    return str(value)


COMPONENT_LABELS = {
    "revenue_trend": gettext_lazy("Revenue trend"),
    "pipeline": gettext_lazy("Pipeline"),
    "engagement": gettext_lazy("Engagement"),
    "enablement": gettext_lazy("Enablement"),
    "relationship": gettext_lazy("Relationship"),
}


urlpatterns = [
    path("", DashboardView.as_view(), name="home"),
    path("dashboard/kpis/", KpiScorecardView.as_view(), name="kpi_scorecard"),
    path("dashboard/forecasts/", ForecastsView.as_view(), name="forecasts"),
    path("dashboard/reactivation/", ReactivationQueueView.as_view(), name="reactivation_queue"),
    path("partners/<uuid:public_id>/health/", PartnerHealthFragmentView.as_view(), name="partner_health"),
]
