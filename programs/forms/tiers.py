"""Forms of the tier pages: validate and normalise input only (services apply the rules)."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import Tier
from programs.models import TIER_REASON_MAX_LENGTH


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=TIER_REASON_MAX_LENGTH, strip=True)


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(label=_("Note"), max_length=TIER_REASON_MAX_LENGTH, strip=True, required=False)


class TierSetForm(ReasonForm):
    tier = forms.ModelChoiceField(
        label=_("Tier"), queryset=Tier.objects.order_by("rank"), required=False, empty_label=_("No tier")
    )

    field_order = ["tier", "reason"]


class WhatIfForm(forms.Form):
    revenue = forms.DecimalField(
        label=_("Revenue (base currency)"), min_value=Decimal("0"), max_digits=16, decimal_places=2, initial=0
    )
    won_deals = forms.IntegerField(label=_("Won deals"), min_value=0, max_value=1_000_000, initial=0)
    certified_people = forms.IntegerField(label=_("Certified people"), min_value=0, max_value=100_000, initial=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.update({"class": "form-control"})
