"""Admin of the tier engine. Status rows change only through programs.services (evaluate,
lock, unlock actions below); the history is read-only."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.utils.translation import gettext_lazy as _

from prm.exceptions import ApplicationError
from programs import services
from programs.models import TIER_REASON_MAX_LENGTH, PartnerTierStatus, TierChange

__all__ = ["PartnerTierStatusAdmin", "TierChangeAdmin"]


class ReasonActionForm(ActionForm):
    reason = forms.CharField(label=_("Reason (lock/unlock)"), required=False, max_length=TIER_REASON_MAX_LENGTH)


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PartnerTierStatus)
class PartnerTierStatusAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = (
        "partner",
        "qualified_tier",
        "at_risk_since",
        "at_risk_tier",
        "demotion_due_on",
        "locked",
        "last_evaluated_at",
    )
    list_filter = ("locked", ("at_risk_since", admin.EmptyFieldListFilter))
    search_fields = ("partner__name",)
    list_select_related = ("partner", "qualified_tier", "at_risk_tier")
    action_form = ReasonActionForm
    actions = ["evaluate", "lock", "unlock"]

    @admin.action(description=_("Evaluate the tiers of the selected partners now"))
    def evaluate(self, request, queryset):
        summary = services.tiers_evaluate(
            partner_ids=list(queryset.values_list("partner_id", flat=True)), actor=request.user
        )
        self.message_user(request, ", ".join(f"{k}: {v}" for k, v in summary.as_dict().items() if k != "errors"))

    def _each(self, request, queryset, service):
        reason = request.POST.get("reason", "")
        done = 0
        for status in queryset.select_related("partner"):
            try:
                service(actor=request.user, partner=status.partner, reason=reason)
            except ApplicationError as exc:
                self.message_user(request, f"{status.partner}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("%(n)d partners done.") % {"n": done})

    @admin.action(description=_("Lock the tier of the selected partners (reason required)"))
    def lock(self, request, queryset):
        self._each(request, queryset, services.tier_lock)

    @admin.action(description=_("Unlock the tier of the selected partners (reason required)"))
    def unlock(self, request, queryset):
        self._each(request, queryset, services.tier_unlock)


@admin.register(TierChange)
class TierChangeAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("created_at", "partner", "kind", "from_tier", "to_tier", "status", "actor", "decided_by")
    list_filter = ("kind", "status")
    search_fields = ("partner__name",)
    list_select_related = ("partner", "from_tier", "to_tier", "actor", "decided_by")
    date_hierarchy = "created_at"
