"""Forms for the lead pages (staff board, lead page, fairness report, CSV import; cabinet
accept/decline): validate and normalise input only; the services apply the rules."""

import datetime as dt

from django import forms
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deals.models import LEAD_REASON_MAX_LENGTH, LeadStatus, ProductLine
from partners.models import Partner, PartnerStatus

LEAD_SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    # Postgres sorts NULL first when descending: leads without a value go last.
    "value": (F("estimated_value").desc(nulls_last=True), "-id"),
    "expires": ("offer_expires_at", "-id"),
    "country": ("country", "-created_at", "-id"),
}


def _required_text(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise forms.ValidationError(_("This field is required."))
    return value


class LeadFilterForm(forms.Form):
    """The staff lead board's filters; `filters()` is what lead_list_for_user takes."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("Status"), required=False)
    country = forms.CharField(label=_("Country"), required=False, max_length=2)
    product_line = forms.ModelChoiceField(label=_("Product line"), required=False, queryset=ProductLine.objects.none())
    age_days = forms.IntegerField(label=_("Older than (days)"), required=False, min_value=0, max_value=3650)
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("newest", _("Newest first")),
            ("oldest", _("Oldest first")),
            ("value", _("Largest value")),
            ("expires", _("Offer expires soonest")),
            ("country", _("Country")),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Any status")), *LeadStatus.choices]
        self.fields["product_line"].queryset = ProductLine.objects.order_by("name")
        self.fields["product_line"].empty_label = _("Any product line")

    def clean_country(self):
        return (self.cleaned_data.get("country") or "").strip().upper()

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        filters = {}
        for key in ("q", "status", "country"):
            if data.get(key):
                filters[key] = data[key]
        if data.get("product_line"):
            filters["product_line"] = data["product_line"].pk
        if data.get("age_days") is not None:
            filters["age_days"] = data["age_days"]
        return filters

    def ordering(self) -> tuple:
        sort = self.cleaned_data.get("sort") if self.is_bound and self.is_valid() else ""
        return LEAD_SORTS.get(sort or "newest")


class LeadReassignForm(forms.Form):
    partner = forms.ModelChoiceField(label=_("Partner"), queryset=Partner.objects.none())
    reason = forms.CharField(
        label=_("Reason (recorded in the audit trail)"),
        max_length=LEAD_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only active partners can take a lead.
        self.fields["partner"].queryset = Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("name")

    def clean_reason(self):
        return _required_text(self.cleaned_data.get("reason"))


class LeadCloseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why close this lead? (staff only)"),
        max_length=LEAD_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_reason(self):
        return _required_text(self.cleaned_data.get("reason"))


class FairnessFilterForm(forms.Form):
    PERIODS = [
        ("30", _("Last 30 days")),
        ("90", _("Last 90 days")),
        ("365", _("Last 12 months")),
        ("all", _("All time")),
    ]

    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)

    def bounds(self, now=None) -> tuple[dt.datetime | None, str]:
        """(since, period key): the start of the period (None = all time)."""
        period = (self.cleaned_data.get("period") if self.is_bound and self.is_valid() else "") or "90"
        if period == "all":
            return None, period
        return (now or timezone.now()) - dt.timedelta(days=int(period)), period


class LeadImportUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


class LeadDeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you declining this lead?"),
        max_length=LEAD_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    spam = forms.BooleanField(label=_("This lead is spam or not a real enquiry"), required=False)

    def clean_reason(self):
        return _required_text(self.cleaned_data.get("reason"))
