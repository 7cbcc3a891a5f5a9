"""Certification forms: parse input; partners.services_certifications applies the rules."""

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import Contact, Partner

EXPIRY_WINDOWS = [("", _("Any")), ("30", _("30 days")), ("60", _("60 days")), ("90", _("90 days"))]
STATUSES = [("", _("All")), ("valid", _("Valid")), ("expired", _("Expired"))]


class CertificationForm(forms.Form):
    contact = forms.ModelChoiceField(label=_("Person"), queryset=Contact.objects.none(), to_field_name="public_id")
    course = forms.CharField(label=_("Course"), max_length=200)
    certificate_number = forms.CharField(label=_("Certificate number"), max_length=64, required=False)
    earned_on = forms.DateField(label=_("Earned on"), widget=forms.DateInput(attrs={"type": "date"}))
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave empty if it does not expire."),
    )

    def __init__(self, *args, partner: Partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.filter(partner=partner, is_active=True).order_by("full_name")


class CertificationFilterForm(forms.Form):
    expiring_within = forms.ChoiceField(label=_("Expiring within"), choices=EXPIRY_WINDOWS, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=STATUSES, required=False)
    partner = forms.ModelChoiceField(
        label=_("Partner"), queryset=Partner.objects.none(), required=False, to_field_name="public_id"
    )
    q = forms.CharField(label=_("Course or person"), required=False, max_length=100)

    def __init__(self, *args, staff: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if staff:
            self.fields["partner"].queryset = Partner.objects.order_by("name")
        else:
            del self.fields["partner"]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        result = {
            "expiring_within": int(data["expiring_within"]) if data.get("expiring_within") else None,
            "status": data.get("status") or None,
            "partner": data.get("partner"),
            "q": data.get("q") or None,
        }
        return {k: v for k, v in result.items() if v is not None}
