"""Django admin for the ledger, earning rules and rewards.

Earning rules and the rewards catalogue are configuration (audited by AuditedAdminMixin).
Ledger entries, balances and redemptions are read-only here: the ledger is append-only (a
database trigger refuses updates of amounts and deletes) and every change goes through the
services (manual adjustment, reversal, redemption decisions), which audit and notify.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from prm.admin import AuditedAdminMixin
from prm.exceptions import ApplicationError
from programs import services
from programs.models import EarningRule, LedgerEntry, PointsBalance, Redemption, Reward

__all__ = ["EarningRuleAdmin", "LedgerEntryAdmin", "PointsBalanceAdmin", "RedemptionAdmin", "RewardAdmin"]


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EarningRule)
class EarningRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "event", "points", "per_thousand", "active", "valid_from", "valid_to", "cap_period")
    list_filter = ("event", "active", "per_thousand")
    search_fields = ("name",)

    def has_delete_permission(self, request, obj=None):
        return False  # entries refer to their rule; deactivate instead


@admin.register(Reward)
class RewardAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "category", "points_cost", "stock", "active")
    list_filter = ("category", "active")
    search_fields = ("name", "description")
    readonly_fields = ("public_id",)

    def has_delete_permission(self, request, obj=None):
        return False  # redemptions refer to their reward; deactivate instead


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "partner",
        "user",
        "kind",
        "amount",
        "unit",
        "state",
        "source_type",
        "source_id",
        "rule",
    )
    list_filter = ("kind", "state", "source_type")
    list_select_related = ("partner", "user", "rule")
    search_fields = ("partner__name", "source_id", "reason")
    date_hierarchy = "occurred_at"
    actions = ["approve"]

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.is_active and request.user.is_vendor_staff  # list + actions only

    @admin.action(description=_("Approve selected accrued entries"))
    def approve(self, request, queryset):
        done = 0
        for entry in queryset:
            try:
                services.ledger_entry_approve(actor=request.user, entry=entry)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{entry}: {exc.message}", messages.WARNING)
        self.message_user(request, _("%(n)s entries approved.") % {"n": done})


@admin.register(PointsBalance)
class PointsBalanceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("partner", "balance", "updated_at")
    list_select_related = ("partner",)
    search_fields = ("partner__name",)
    ordering = ("-balance",)


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "partner", "reward", "quantity", "points", "status", "requested_by", "decided_by")
    list_filter = ("status",)
    list_select_related = ("partner", "reward", "requested_by", "decided_by")
    search_fields = ("partner__name", "reward__name")
