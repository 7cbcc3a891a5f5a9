"""Forms for sales records (staff and cabinet): they parse input; the services apply the rules."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deals.models import Product, SalesKind
from partners.models import Partner
from prm.models import Currency

PERIODS = [
    ("", _("Any time")),
    ("this_month", _("This month")),
    ("last_3", _("Last 3 months")),
    ("last_12", _("Last 12 months")),
    ("this_year", _("This year")),
]


def period_range(code: str):
    today = timezone.localdate()
    if code == "this_month":
        return today.replace(day=1), today
    if code == "this_year":
        return today.replace(month=1, day=1), today
    if code in ("last_3", "last_12"):
        months = 3 if code == "last_3" else 12
        year, month = today.year, today.month - months + 1
        while month <= 0:
            month += 12
            year -= 1
        return today.replace(year=year, month=month, day=1), today
    return None, None


class SalesFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All kinds")), *SalesKind.choices])
    period = forms.ChoiceField(label=_("Period"), required=False, choices=PERIODS)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    product = forms.ModelChoiceField(label=_("Product"), required=False, queryset=Product.objects.none())
    q = forms.CharField(label=_("Reference"), required=False, max_length=64)

    def __init__(self, *args, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.select_related("line").order_by("name")
        if staff:
            self.fields["partner"] = forms.ModelChoiceField(
                label=_("Partner"),
                required=False,
                queryset=Partner.objects.order_by("name"),
                to_field_name="public_id",
            )

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        date_from, date_to = period_range(data.get("period") or "")
        result = {
            "kind": data.get("kind") or None,
            "date_from": data.get("date_from") or date_from,
            "date_to": data.get("date_to") or date_to,
            "product": data.get("product"),
            "q": data.get("q") or None,
            "partner": data.get("partner"),
        }
        return {k: v for k, v in result.items() if v}


class SalesRecordForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=SalesKind.choices)
    occurred_on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(
        label=_("Reference"), required=False, max_length=64, help_text=_("The invoice or report line number.")
    )
    product = forms.ModelChoiceField(label=_("Product"), required=False, queryset=Product.objects.none())
    quantity = forms.IntegerField(label=_("Quantity"), required=False)
    amount = forms.DecimalField(label=_("Amount"), max_digits=16, decimal_places=2)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=300)

    def __init__(self, *args, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(is_active=True).order_by("name")
        if staff:
            self.fields = {
                "partner": forms.ModelChoiceField(
                    label=_("Partner"), queryset=Partner.objects.order_by("name"), to_field_name="public_id"
                ),
                **self.fields,
            }
        else:
            # Partners report sell-out only.
            del self.fields["kind"]
        self.fields["occurred_on"].initial = timezone.localdate()


class SalesReturnForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity returned"), required=False, min_value=1)
    amount = forms.DecimalField(
        label=_("Amount returned"),
        required=False,
        max_digits=16,
        decimal_places=2,
        min_value=0,
        help_text=_("Leave both empty to return everything not yet returned."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class SalesImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, separated by commas or semicolons."))
