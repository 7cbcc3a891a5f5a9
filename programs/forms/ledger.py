"""Forms for the points and rewards pages: validate and normalise input only; the services in
programs.services apply the rules (balance, stock, state)."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from programs.models import (
    REDEMPTION_TEXT_MAX_LENGTH,
    REWARD_DESCRIPTION_MAX_LENGTH,
    REWARD_MAX_POINTS_COST,
    EntryKind,
    EntryState,
    RedemptionStatus,
    RewardCategory,
    SourceType,
)
from programs.selectors import LedgerFilters, RedemptionFilters


def _valid(form, only=None) -> dict:
    """The cleaned, non-empty values of the fields that validated (others are left out)."""
    if not form.is_bound:
        return {}
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    return {k: v for k, v in data.items() if v not in ("", None) and (only is None or k in only)}


class _ReasonCleanMixin:
    def clean_reason(self):
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason."))
        return reason


class LedgerFilterForm(forms.Form):
    """Points history filters (cabinet and staff). Invalid values are ignored, not refused:
    a filter never breaks the page."""

    source_type = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("Any source")), *SourceType.choices]
    )
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("Any state")), *EntryState.choices])
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self, **extra) -> LedgerFilters:
        """The selector's filters from the valid values (points only); `extra` adds e.g. the partner."""
        return LedgerFilters(kind=EntryKind.POINTS, **_valid(self), **extra)


class AdjustmentForm(_ReasonCleanMixin, forms.Form):
    """Staff manual adjustment: a signed whole number of points with a reason (audited)."""

    amount = forms.IntegerField(
        label=_("Points (negative to debit)"),
        min_value=-10_000_000,
        max_value=10_000_000,
        help_text=_("A positive number credits points, a negative one debits them."),
    )
    reason = forms.CharField(
        label=_("Reason (the partner sees it)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("Enter a number of points other than zero."))
        return Decimal(amount)


class RedeemForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=1000, initial=1, required=False)

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        return 1 if quantity is None else quantity


class RejectRedemptionForm(_ReasonCleanMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for rejection (the partner sees it)"),
        max_length=REDEMPTION_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RedemptionFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *RedemptionStatus.choices]
    )

    def filters(self) -> RedemptionFilters:
        return RedemptionFilters(**_valid(self, only=("status",)))


class RedemptionQueueFilterForm(forms.Form):
    """Staff queue: empty status = what needs work (requested, then approved awaiting
    fulfilment, oldest first); a status shows that status's history, newest first."""

    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("To work on")), *RedemptionStatus.choices]
    )
    mine = forms.BooleanField(label=_("Only my partners"), required=False)

    def values(self) -> dict:
        data = _valid(self)
        return {"status": data.get("status", ""), "mine": bool(data.get("mine"))}


class RewardForm(forms.Form):
    """Create or edit a catalogue item (staff)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    name_ru = forms.CharField(label=_("Name in Russian"), max_length=200, required=False)
    name_zh = forms.CharField(label=_("Name in Chinese"), max_length=200, required=False)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=REWARD_DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    category = forms.ChoiceField(label=_("Category"), choices=RewardCategory.choices)
    points_cost = forms.IntegerField(label=_("Points cost"), min_value=1, max_value=REWARD_MAX_POINTS_COST)
    stock = forms.IntegerField(
        label=_("Stock"), min_value=0, required=False, help_text=_("Leave empty for unlimited stock.")
    )
    active = forms.BooleanField(label=_("Shown in the catalogue"), required=False, initial=True)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("This field is required."))
        return name

    @classmethod
    def initial_from(cls, reward) -> dict:
        return {
            "name": reward.name,
            "name_ru": reward.name_i18n.get("ru", ""),
            "name_zh": reward.name_i18n.get("zh-hans", ""),
            "description": reward.description,
            "category": reward.category,
            "points_cost": reward.points_cost,
            "stock": reward.stock,
            "active": reward.active,
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        names = {"ru": data["name_ru"].strip(), "zh-hans": data["name_zh"].strip()}
        return {
            "name": data["name"],
            "name_i18n": {k: v for k, v in names.items() if v},
            "description": data["description"].strip(),
            "category": data["category"],
            "points_cost": data["points_cost"],
            "stock": data["stock"],
            "active": data["active"],
        }
