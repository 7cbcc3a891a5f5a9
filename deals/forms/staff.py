"""Staff forms for deal registration: validate and normalise input only (services apply rules)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from deals.models import ConflictOutcome


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_("Note to the partner (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReasonForm(forms.Form):
    """Reject / return a registration, or refuse an extension: the partner sees the reason."""

    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("This field is required."))
        return reason


class RejectForm(ReasonForm):
    reason = forms.CharField(
        label=_("Reason for rejection (the partner sees it)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReturnForm(ReasonForm):
    reason = forms.CharField(
        label=_("What information is missing (the partner sees it)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ConflictResolveForm(forms.Form):
    """`resolution` is "award_low", "award_high", "co_sell" or "reject_both": one radio group,
    so "award" always names a side. The view maps it onto conflict_resolve(outcome, winner)."""

    resolution = forms.ChoiceField(label=_("Resolution"), widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason (staff only)"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, conflict, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = conflict.registration_low, conflict.registration_high
        self.conflict = conflict
        self.fields["resolution"].choices = [
            (
                "award_low",
                _("Award to %(partner)s (%(reference)s)") % {"partner": low.partner.name, "reference": low.reference},
            ),
            (
                "award_high",
                _("Award to %(partner)s (%(reference)s)") % {"partner": high.partner.name, "reference": high.reference},
            ),
            (ConflictOutcome.CO_SELL.value, _("Co-sell: both registrations stay")),
            (ConflictOutcome.REJECT_BOTH.value, _("Reject both registrations")),
        ]

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("This field is required."))
        return reason

    def service_arguments(self) -> dict:
        """outcome / winner for conflict_resolve, from the cleaned resolution."""
        resolution = self.cleaned_data["resolution"]
        if resolution == "award_low":
            return {"outcome": ConflictOutcome.AWARD, "winner": self.conflict.registration_low}
        if resolution == "award_high":
            return {"outcome": ConflictOutcome.AWARD, "winner": self.conflict.registration_high}
        return {"outcome": resolution, "winner": None}


class ReviewQueueFilterForm(forms.Form):
    mine = forms.BooleanField(label=_("Only partners I own"), required=False)


class ConflictFilterForm(forms.Form):
    STATUS_CHOICES = [("open", _("Open")), ("resolved", _("Resolved")), ("all", _("All"))]

    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    mine = forms.BooleanField(label=_("Only partners I own"), required=False)
