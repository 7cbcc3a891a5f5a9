"""Cabinet forms: validate and normalise input only; the services apply the rules."""

from django import forms
from django.forms.models import fields_for_model, model_to_dict
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from partners.services import PARTNER_EDITABLE_FIELDS
from prm.models import Role


class PartnerProfileForm(forms.Form):
    """The fields of its own company a partner admin may edit (labels and choices from the model)."""

    def __init__(self, *args, partner: Partner, **kwargs):
        kwargs.setdefault("initial", model_to_dict(partner, fields=PARTNER_EDITABLE_FIELDS))
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(Partner, fields=PARTNER_EDITABLE_FIELDS))
        self.fields["industries"].help_text = _("Separate industries with commas.")
        self.fields["website_domain"].help_text = _("For example example.com — without https:// or www.")

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_website_domain(self):
        return self.cleaned_data["website_domain"].strip().lower()

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_industries(self):
        # De-duplicate while keeping the order the admin typed.
        seen: dict[str, None] = {}
        for item in self.cleaned_data["industries"] or []:
            item = item.strip()
            if item:
                seen.setdefault(item, None)
        return list(seen)


class InvitationForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"))
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[
            (Role.PARTNER_REP.value, Role.PARTNER_REP.label),
            (Role.PARTNER_ADMIN.value, Role.PARTNER_ADMIN.label),
        ],
        initial=Role.PARTNER_REP.value,
        help_text=_("Admins manage the company profile and the team; reps work with deals and leads."),
    )

    def clean_full_name(self):
        return self.cleaned_data["full_name"].strip()

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(label=_("Your full name"), max_length=200)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common password and not only digits."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_full_name(self):
        return self.cleaned_data["full_name"].strip()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password2") and cleaned["password1"] != cleaned["password2"]:
            self.add_error("password2", _("The two passwords do not match."))
        return cleaned


class UserActiveForm(forms.Form):
    active = forms.BooleanField(required=False)
