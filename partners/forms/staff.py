"""Staff forms: validate and normalise input, scope choices. Writes happen in partners.services."""

import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners import selectors
from partners.models import (
    AgreementStatus,
    ContactRole,
    InteractionKind,
    PartnerSize,
    PartnerStatus,
    PartnerType,
    Region,
)
from partners.services import normalize_domain
from prm.models import Currency

YES_NO_ANY = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Statuses a partner may be created in; later ones (suspended, terminated) only via a transition.
CREATE_STATUSES = [
    (s.value, s.label)
    for s in (PartnerStatus.PROSPECT, PartnerStatus.APPLICANT, PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE)
]


class StaffUserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.full_name or obj.email


def _tiers():
    return selectors.tier_list()


# --- Partner list -------------------------------------------------------------------------

SORT_CHOICES = [
    ("name", _("Name")),
    ("-name", _("Name (Z–A)")),
    ("tier", _("Tier (lowest first)")),
    ("-tier", _("Tier (highest first)")),
    ("status", _("Status")),
    ("-status", _("Status (reverse)")),
    ("last_activity", _("Last activity (oldest first)")),
    ("-last_activity", _("Last activity (latest first)")),
]


class PartnerFilterForm(forms.Form):
    """The GET form of the partner list. Invalid values are ignored, never an error page."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    tier = forms.ChoiceField(label=_("Tier"), required=False)
    partner_type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("Any type")), *PartnerType.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *PartnerStatus.choices]
    )
    owner = forms.ChoiceField(label=_("Channel manager"), required=False)
    region = forms.ChoiceField(label=_("Region"), required=False, choices=[("", _("Any region")), *Region.choices])
    dormant = forms.ChoiceField(label=_("Dormant"), required=False, choices=YES_NO_ANY)
    key_account = forms.ChoiceField(label=_("Key account"), required=False, choices=YES_NO_ANY)
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=SORT_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [
            ("", _("Any tier")),
            ("none", _("No tier")),
            *[(t.code, t.name) for t in _tiers()],
        ]
        self.fields["owner"].choices = [
            ("", _("Anyone")),
            ("me", _("Mine")),
            ("none", _("Nobody")),
            *[(str(u.public_id), u.full_name or u.email) for u in selectors.staff_user_choices()],
        ]

    def clean_q(self):
        return self.cleaned_data["q"].strip()

    def filters(self) -> selectors.PartnerFilters:
        """The valid part of the query; call after is_valid()."""
        data = getattr(self, "cleaned_data", {})

        def yes_no(name):
            return {"yes": True, "no": False}.get(data.get(name) or "")

        return selectors.PartnerFilters(
            q=data.get("q", ""),
            tier=data.get("tier", ""),
            partner_type=data.get("partner_type", ""),
            status=data.get("status", ""),
            owner=data.get("owner", ""),
            region=data.get("region", ""),
            dormant=yes_no("dormant"),
            key_account=yes_no("key_account"),
        )

    def ordering(self) -> str:
        return getattr(self, "cleaned_data", {}).get("sort") or "name"


# --- Partner profile ----------------------------------------------------------------------


class PartnerForm(forms.Form):
    """Staff edit of a partner's profile. Status, tier and verification have their own forms."""

    name = forms.CharField(label=_("Display name"), max_length=200)
    legal_name = forms.CharField(label=_("Legal name"), max_length=300)
    partner_type = forms.ChoiceField(label=_("Type"), choices=PartnerType.choices)
    owner = StaffUserChoiceField(
        label=_("Channel manager"), queryset=None, required=False, empty_label=_("No channel manager")
    )
    country = forms.CharField(
        label=_("Country"),
        widget=forms.TextInput(attrs={"maxlength": 2, "autocapitalize": "characters"}),
        help_text=_("ISO 3166 two-letter code, e.g. RU, KZ, CN."),
    )
    region = forms.ChoiceField(label=_("Region"), choices=Region.choices)
    city = forms.CharField(label=_("City"), max_length=120, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    latitude = forms.DecimalField(
        label=_("Latitude"), max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False
    )
    longitude = forms.DecimalField(
        label=_("Longitude"), max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False
    )
    website_domain = forms.CharField(
        label=_("Website"), max_length=253, required=False, help_text=_("A domain or address, e.g. example.com.")
    )
    email = forms.EmailField(label=_("General e-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    tax_id = forms.CharField(label=_("Tax id"), max_length=32, required=False)
    size = forms.ChoiceField(label=_("Size"), choices=[("", "—"), *PartnerSize.choices], required=False)
    industries = forms.CharField(
        label=_("Industries"), required=False, help_text=_("Separate with commas, e.g. banking, retail.")
    )
    description = forms.CharField(
        label=_("About the company"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    is_key_account = forms.BooleanField(label=_("Key account"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = selectors.staff_user_choices()

    @classmethod
    def initial_from(cls, partner) -> dict:
        initial = {name: getattr(partner, name) for name in cls.base_fields if hasattr(partner, name)}
        initial["industries"] = ", ".join(partner.industries or [])
        return initial

    def clean_country(self):
        value = self.cleaned_data["country"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise forms.ValidationError(_("Enter a two-letter country code, e.g. RU."))
        return value

    def clean_website_domain(self):
        raw = self.cleaned_data["website_domain"]
        if not raw.strip():
            return ""
        value = normalize_domain(raw)
        if not re.fullmatch(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}", value):
            raise forms.ValidationError(_("Enter a domain such as example.com."))
        return value

    def clean_tax_id(self):
        # Tax ids are typed with spaces and dashes in many ways; we keep the bare characters.
        return re.sub(r"[\s\-]", "", self.cleaned_data["tax_id"])

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_industries(self):
        items = [i.strip() for i in self.cleaned_data["industries"].split(",")]
        items = [i for i in items if i]
        too_long = [i for i in items if len(i) > 60]
        if too_long:
            raise forms.ValidationError(_("Each industry must be at most 60 characters."))
        return list(dict.fromkeys(items))

    def clean(self):
        data = super().clean()
        lat, lon = data.get("latitude"), data.get("longitude")
        if (lat is None) != (lon is None) and "latitude" not in self.errors and "longitude" not in self.errors:
            self.add_error(
                "longitude" if lon is None else "latitude", _("Give both latitude and longitude, or neither.")
            )
        return data


class PartnerCreateForm(PartnerForm):
    status = forms.ChoiceField(label=_("Status"), choices=CREATE_STATUSES, initial=PartnerStatus.PROSPECT)
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=None, required=False, empty_label=_("No tier"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = _tiers()


class KamProfileForm(forms.Form):
    general_info = forms.CharField(
        label=_("General information"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    structure = forms.CharField(
        label=_("Structure (branches, subsidiaries)"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    related_organisations = forms.CharField(
        label=_("Related organisations (competitors, counterparties)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    history = forms.CharField(
        label=_("History (agreements, tenders, wins and losses with reasons)"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    our_team = forms.CharField(label=_("Our people involved"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    their_team = forms.CharField(
        label=_("Their people involved"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    senior_sponsor = forms.CharField(label=_("Senior sponsor"), max_length=200, required=False)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices)
    opportunity_1y = forms.DecimalField(label=_("Opportunity, 1 year"), max_digits=16, decimal_places=2, min_value=0)
    opportunity_3y = forms.DecimalField(label=_("Opportunity, 3 years"), max_digits=16, decimal_places=2, min_value=0)
    opportunity_5y = forms.DecimalField(label=_("Opportunity, 5 years"), max_digits=16, decimal_places=2, min_value=0)

    @classmethod
    def initial_from(cls, profile) -> dict:
        if profile is None:
            return {"currency": Currency.RUB, "opportunity_1y": 0, "opportunity_3y": 0, "opportunity_5y": 0}
        return {name: getattr(profile, name) for name in cls.base_fields}


class StatusChangeForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=PartnerStatus.choices)
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )


class VerifyForm(forms.Form):
    verified = forms.TypedChoiceField(
        label=_("Verified"), choices=[("1", _("Yes")), ("0", _("No"))], coerce=lambda v: v == "1"
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)


# --- People, agreements, interactions -------------------------------------------------------


class ContactForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    job_title = forms.CharField(label=_("Job title"), max_length=120, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=ContactRole.choices, initial=ContactRole.OTHER)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    is_decision_maker = forms.BooleanField(label=_("Decision maker"), required=False)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=DATE_WIDGET)
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    @classmethod
    def initial_from(cls, contact) -> dict:
        return {name: getattr(contact, name) for name in cls.base_fields}

    def clean_full_name(self):
        return " ".join(self.cleaned_data["full_name"].split())

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class AgreementForm(forms.Form):
    number = forms.CharField(label=_("Number"), max_length=60)
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=AgreementStatus.choices, initial=AgreementStatus.DRAFT)
    commission_pct = forms.DecimalField(
        label=_("Commission %"), max_digits=5, decimal_places=2, min_value=0, max_value=100, initial=0
    )
    discount_pct = forms.DecimalField(
        label=_("Discount %"), max_digits=5, decimal_places=2, min_value=0, max_value=100, initial=0
    )
    payment_terms_days = forms.IntegerField(label=_("Payment terms (days)"), min_value=0, max_value=32767, initial=30)
    service_format = forms.CharField(label=_("Service format"), max_length=200, required=False)
    response_time_hours = forms.IntegerField(
        label=_("Response time (hours)"), min_value=0, max_value=32767, required=False
    )
    vendor_responsible = StaffUserChoiceField(
        label=_("Responsible on our side"), queryset=None, required=False, empty_label=_("Nobody")
    )
    partner_responsible = forms.ModelChoiceField(
        label=_("Responsible on the partner's side"),
        queryset=None,
        required=False,
        empty_label=_("Nobody"),
        error_messages={"invalid_choice": _("Choose a contact of this partner.")},
    )
    starts_on = forms.DateField(label=_("Starts"), widget=DATE_WIDGET)
    ends_on = forms.DateField(label=_("Ends"), required=False, widget=DATE_WIDGET)
    auto_renew = forms.BooleanField(label=_("Renews automatically"), required=False)
    signed_on = forms.DateField(label=_("Signed"), required=False, widget=DATE_WIDGET)
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vendor_responsible"].queryset = selectors.staff_user_choices()
        # Only this partner's people can be responsible on its side.
        self.fields["partner_responsible"].queryset = selectors.contact_list(partner=partner)

    @classmethod
    def initial_from(cls, agreement) -> dict:
        return {name: getattr(agreement, name) for name in cls.base_fields}

    def clean_number(self):
        return self.cleaned_data["number"].strip()

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("The end date cannot be before the start date."))
        if (
            data.get("status") == AgreementStatus.ACTIVE
            and not data.get("signed_on")
            and "signed_on" not in self.errors
        ):
            self.add_error("signed_on", _("An active agreement needs the date it was signed."))
        return data


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=InteractionKind.choices, initial=InteractionKind.CALL)
    occurred_at = forms.DateTimeField(
        label=_("When"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    contact = forms.ModelChoiceField(
        label=_("With"),
        queryset=None,
        required=False,
        empty_label=_("Nobody in particular"),
        error_messages={"invalid_choice": _("Choose a contact of this partner.")},
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    next_step = forms.CharField(label=_("Next step"), max_length=300, required=False)
    next_step_due = forms.DateField(label=_("Next step due"), required=False, widget=DATE_WIDGET)

    def __init__(self, *args, partner, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("occurred_at", timezone.localtime().replace(second=0, microsecond=0))
        super().__init__(*args, **kwargs)
        # The contact must belong to THIS partner: anything else is an invalid choice.
        self.fields["contact"].queryset = selectors.contact_list(partner=partner)

    def clean_subject(self):
        return self.cleaned_data["subject"].strip()

    def clean_next_step(self):
        return self.cleaned_data["next_step"].strip()

    def clean(self):
        data = super().clean()
        if data.get("next_step_due") and not data.get("next_step") and "next_step" not in self.errors:
            self.add_error("next_step", _("A due date needs a next step: describe the step or clear the date."))
        return data
