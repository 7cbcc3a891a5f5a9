"""Cabinet forms for deal registration: validate and normalise input only (services apply rules)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from deals import selectors
from deals.models import DealStage, DealStatus
from prm.models import Currency

CUSTOMER_FIELDS = ("name", "website", "tax_id", "country", "city")


class ProductChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.line.name} — {obj.name}"


class DealForm(forms.Form):
    """Register or edit a registration. Field names are shared with the browser tests."""

    customer_name = forms.CharField(label=_("End customer"), max_length=300)
    customer_website = forms.CharField(label=_("Website"), max_length=300, required=False)
    customer_tax_id = forms.CharField(label=_("Tax id"), max_length=32, required=False)
    customer_country = forms.CharField(
        label=_("Country"), max_length=2, required=False, help_text=_("ISO 3166 two-letter code, e.g. RU")
    )
    customer_city = forms.CharField(label=_("City"), max_length=120, required=False)
    title = forms.CharField(label=_("Opportunity"), max_length=200, required=False)
    products = ProductChoiceField(label=_("Products"), queryset=None, required=False)
    value = forms.DecimalField(label=_("Value"), max_digits=16, decimal_places=2, min_value=0)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial=Currency.RUB)
    expected_close_date = forms.DateField(
        label=_("Expected close date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    stage = forms.ChoiceField(label=_("Stage"), choices=DealStage.choices, initial=DealStage.QUALIFICATION)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["products"].queryset = selectors.product_choices()

    def clean_customer_name(self):
        name = " ".join(self.cleaned_data["customer_name"].split())
        if not name:
            raise forms.ValidationError(_("This field is required."))
        return name

    def clean_customer_website(self):
        return self.cleaned_data["customer_website"].strip().lower()

    def clean_customer_tax_id(self):
        return "".join(self.cleaned_data["customer_tax_id"].split())

    def clean_customer_country(self):
        return self.cleaned_data["customer_country"].strip().upper()

    def customer(self) -> dict:
        return {name: self.cleaned_data[f"customer_{name}"] for name in CUSTOMER_FIELDS}

    def service_kwargs(self) -> dict:
        """Arguments shared by deal_create and deal_update."""
        data = self.cleaned_data
        return {
            "customer": self.customer(),
            "products": list(data["products"]),
            "value": data["value"],
            "currency": data["currency"],
            "expected_close_date": data["expected_close_date"],
            "stage": data["stage"],
            "title": data["title"],
            "description": data["description"],
        }

    @classmethod
    def initial_from(cls, deal) -> dict:
        customer = deal.customer_as_entered
        return {
            "customer_name": customer.name,
            "customer_website": customer.website,
            "customer_tax_id": customer.tax_id,
            "customer_country": customer.country,
            "customer_city": customer.city,
            "title": deal.title,
            "products": [p.pk for p in deal.products.all()],
            "value": deal.value,
            "currency": deal.currency,
            "expected_close_date": deal.expected_close_date,
            "stage": deal.stage,
            "description": deal.description,
        }


class PrecheckForm(forms.Form):
    """The live check's input: lenient, so a half-typed form still gets a verdict."""

    customer_name = forms.CharField(required=False, max_length=300)
    customer_website = forms.CharField(required=False, max_length=300)
    customer_tax_id = forms.CharField(required=False, max_length=32)
    products = forms.TypedMultipleChoiceField(required=False, coerce=int, choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["products"].choices = [(p.pk, p.pk) for p in selectors.product_choices()]

    def precheck_kwargs(self) -> dict:
        self.is_valid()  # invalid fields (e.g. an unknown product) drop out of cleaned_data
        data = self.cleaned_data
        return {
            "name": data.get("customer_name", "").strip(),
            "website": data.get("customer_website", "").strip(),
            "tax_id": "".join(data.get("customer_tax_id", "").split()),
            "products": data.get("products") or [],
        }


class DealFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *DealStatus.choices])
    stage = forms.ChoiceField(label=_("Stage"), required=False, choices=[("", _("Any stage")), *DealStage.choices])
    q = forms.CharField(label=_("Search"), required=False, max_length=200)

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class ExtensionRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need more time?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class WonForm(forms.Form):
    final_amount = forms.DecimalField(label=_("Final amount"), max_digits=16, decimal_places=2, min_value=0)


class LostForm(forms.Form):
    reason = forms.CharField(label=_("Why was it lost?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
