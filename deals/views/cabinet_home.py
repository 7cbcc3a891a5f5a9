"""The partner cabinet's home page (`cabinet:home`): my company and channel manager, my open
registrations (the `cabinet:deal_home_card` fragment), my statistics over time as charts, and
my commit beside my pipeline for the coming quarters (partner admins enter the commit here).

It lives in the deals app because it shows deals numbers (partners never imports deals); it
replaced the partners app's plain home view. Everything read is the user's own partner: the
company comes through `partners.selectors.partner_list` (a partner user's scope is their own
company) and the numbers through `deals.dashboard` selectors given that partner only."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views import View

from deals import dashboard
from deals.forms.dashboard import CommitForm
from deals.services.forecasts import partner_commit_set
from deals.views.charts import Chart, Dataset, export_response, with_export_urls
from partners.selectors import partner_list
from prm.exceptions import ApplicationError
from prm.money import base_currency
from prm.permissions import PartnerAdminRequiredMixin, PartnerUserRequiredMixin
from prm.web import form_add_service_errors

STAT_MONTHS = 12


def home_charts(*, partner) -> tuple[list[Chart], list[dict]]:
    stats = dashboard.partner_stats_by_month(partner=partner, months=STAT_MONTHS)
    quarters = dashboard.partner_commit_vs_pipeline(partner=partner)
    labels = [row["label"] for row in stats]
    currency = base_currency()
    charts = [
        Chart(
            key="my_registrations",
            title=_("Registrations and wins per month"),
            x_label=_("Month"),
            labels=labels,
            datasets=[
                Dataset(_("Registered"), [row["registrations"] for row in stats]),
                Dataset(_("Won"), [row["won"] for row in stats], color="#198754"),
                Dataset(_("Lost"), [row["lost"] for row in stats], table_only=True),
            ],
            unit="count",
        ),
        Chart(
            key="my_win_rate",
            title=_("Win rate"),
            x_label=_("Month"),
            labels=labels,
            datasets=[
                Dataset(
                    _("Won of closed, %"),
                    [None if row["win_rate"] is None else round(row["win_rate"] * 100, 1) for row in stats],
                    fill=True,
                )
            ],
            kind="line",
            unit="percent",
            y_max=100,
        ),
        Chart(
            key="my_revenue",
            title=_("Revenue per month (%(currency)s)") % {"currency": currency},
            x_label=_("Month"),
            labels=labels,
            datasets=[Dataset(_("Revenue"), [row["revenue"] for row in stats], color="#6f42c1")],
        ),
        Chart(
            key="my_commit",
            title=_("My commit and my pipeline (%(currency)s)") % {"currency": currency},
            x_label=_("Quarter"),
            labels=[row["label"] for row in quarters],
            datasets=[
                Dataset(_("Weighted pipeline"), [row["weighted"] for row in quarters]),
                Dataset(_("Forecast"), [row["forecast"] for row in quarters], color="#20c997"),
                Dataset(_("Commit"), [row["commit"] for row in quarters], type="line", color="#dc3545"),
            ],
        ),
    ]
    return charts, quarters


def _render_home(request, partner, commit_form=None):
    charts, quarters = home_charts(partner=partner)
    export = export_response(request, charts, filename_prefix="my")
    if export is not None:
        return export
    if commit_form is None and request.user.is_partner_admin:
        commit_form = CommitForm()
    context = {
        "partner": partner,
        "charts": with_export_urls(request, charts),
        "quarters": quarters,
        "commit_form": commit_form,
        "currency": base_currency(),
    }
    return render(request, "cabinet/home.html", context)


class HomeView(PartnerUserRequiredMixin, View):
    def get(self, request):
        return _render_home(request, partner_list(user=request.user).get())


class CommitSetView(PartnerAdminRequiredMixin, View):
    """A partner admin enters or changes the commit for a coming quarter (one per quarter)."""

    def post(self, request):
        partner = partner_list(user=request.user).get()
        form = CommitForm(request.POST)
        if form.is_valid():
            year, quarter = form.year_quarter()
            try:
                partner_commit_set(
                    actor=request.user,
                    partner=partner,
                    year=year,
                    quarter=quarter,
                    amount=form.cleaned_data["amount"],
                    currency=form.cleaned_data["currency"],
                )
            except ApplicationError as exc:
                form_add_service_errors(form, exc, field_map={"quarter": "period", "year": "period"})
            else:
                messages.success(
                    request,
                    _("Your commit for %(quarter)s is saved.") % {"quarter": dashboard.quarter_label(year, quarter)},
                )
                return redirect("cabinet:home")
        return _render_home(request, partner, commit_form=form)


urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("commits/", CommitSetView.as_view(), name="commit_set"),
]
