"""Dashboard forms: the staff dashboard's GET filters, the KPI period and the cabinet commit entry.
They validate and normalise input only; scoping is the selectors' job, rules the services'."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deals.dashboard import add_months, coming_quarters, quarter_bounds, quarter_of, shift_quarter
from partners.models import PartnerType, Region
from partners.selectors import staff_user_choices, tier_list
from prm.models import Currency, Role

PERIODS = [
    ("last_12_months", _("Last 12 months")),
    ("this_quarter", _("This quarter")),
    ("last_quarter", _("Last quarter")),
    ("this_year", _("This year")),
    ("last_year", _("Last year")),
]


def period_bounds(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of a named period around `today`."""
    year, quarter = quarter_of(today)
    if period in ("this_quarter", "last_quarter"):
        start, next_start = quarter_bounds(*shift_quarter(year, quarter, 0 if period == "this_quarter" else -1))
        return start, next_start - dt.timedelta(days=1)
    if period == "this_year":
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    if period == "last_year":
        return dt.date(year - 1, 1, 1), dt.date(year - 1, 12, 31)
    # last_12_months: this month and the 11 before it
    return add_months(today.replace(day=1), -11), today


def _manager_choices(user):
    """Who a lead or an administrator may narrow the dashboard to: a lead's team, or everyone."""
    qs = staff_user_choices()
    if user.role == Role.CHANNEL_LEAD:
        qs = qs.filter(pk=user.pk) | qs.filter(reports_to=user)
    return [(str(u.public_id), u.full_name or u.email) for u in qs]


class DashboardFilterForm(forms.Form):
    """GET filters of the staff dashboard. Invalid values are dropped, never an error page."""

    period = forms.ChoiceField(label=_("Period"), required=False, choices=PERIODS)
    region = forms.ChoiceField(label=_("Region"), required=False, choices=[("", _("Any region")), *Region.choices])
    tier = forms.ChoiceField(label=_("Tier"), required=False)
    partner_type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("Any type")), *PartnerType.choices]
    )
    manager = forms.ChoiceField(label=_("Channel manager"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["tier"].choices = [("", _("Any tier")), *[(str(t.pk), t.name) for t in tier_list()]]
        if user.role in (Role.CHANNEL_LEAD, Role.ADMINISTRATOR):
            self.fields["manager"].choices = [("", _("Everyone in scope")), *_manager_choices(user)]
        else:
            del self.fields["manager"]  # a channel manager sees their own partners only

    def values(self, today: dt.date | None = None) -> dict:
        """The valid part of the query as DashboardFilters keyword arguments; call after is_valid()."""
        data = getattr(self, "cleaned_data", {})
        today = today or timezone.localdate()
        start, end = period_bounds(data.get("period") or "last_12_months", today)
        manager_id = None
        if data.get("manager"):
            from prm.models import User

            manager_id = User.objects.filter(public_id=data["manager"]).values_list("pk", flat=True).first()
        return {
            "period_start": start,
            "period_end": end,
            "region": data.get("region") or "",
            "tier_id": int(data["tier"]) if data.get("tier") else None,
            "partner_type": data.get("partner_type") or "",
            "manager_id": manager_id,
        }


class KpiPeriodForm(forms.Form):
    """Year and quarter of the KPI scorecard; the current quarter unless asked otherwise."""

    year = forms.TypedChoiceField(label=_("Year"), coerce=int)
    quarter = forms.TypedChoiceField(label=_("Quarter"), coerce=int, choices=[(q, f"Q{q}") for q in range(1, 5)])

    def __init__(self, *args, today: dt.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        self.fields["year"].choices = [(y, str(y)) for y in range(self.today.year, self.today.year - 5, -1)]

        year, quarter = quarter_of(self.today)
        self.initial.setdefault("year", year)
        self.initial.setdefault("quarter", quarter)

    def period(self) -> tuple[int, int]:
        """(year, quarter) asked for; the current quarter when the query is missing or invalid."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["year"], self.cleaned_data["quarter"]
        return quarter_of(self.today)


class CommitForm(forms.Form):
    """A partner admin's commit for one coming quarter."""

    period = forms.ChoiceField(label=_("Quarter"))
    amount = forms.DecimalField(label=_("Amount"), max_digits=16, decimal_places=2, min_value=Decimal(0))
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices)

    def __init__(self, *args, today: dt.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        quarters = coming_quarters(today or timezone.localdate())
        self.fields["period"].choices = [(f"{y}-{q}", f"{y} Q{q}") for y, q in quarters]

    def year_quarter(self) -> tuple[int, int]:
        year, quarter = self.cleaned_data["period"].split("-")
        return int(year), int(quarter)
