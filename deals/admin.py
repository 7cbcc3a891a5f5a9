"""Django admin for deal registration.

Catalogue and calendar (product lines, products, holidays) are plain configuration, audited
by AuditedAdminMixin. End customers and direct accounts are written through their services
so the normalised keys stay right. Registrations, conflicts and extension requests are
read-only here: their state changes belong to the services (staff pages call them), which
keep the lifecycle, the audit trail and the notifications consistent.
"""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from deals import services
from deals.models import (
    Conflict,
    DealProduct,
    DealRegistration,
    DirectAccount,
    EndCustomer,
    ForecastRun,
    ForecastSnapshot,
    Holiday,
    PartnerCommit,
    PartnerHealth,
    Product,
    ProductLine,
    ProtectionExtension,
    ReorderExpectation,
    Target,
)
from deals.normalize import normalize_tax_id
from prm.admin import AuditedAdminMixin
from prm.exceptions import ApplicationError


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ProductLine)
class ProductLineAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}


@admin.register(Product)
class ProductAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "sku", "line", "is_active")
    list_filter = ("is_active", "line")
    list_select_related = ("line",)
    search_fields = ("name", "sku")


@admin.register(Holiday)
class HolidayAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("date", "name")
    date_hierarchy = "date"


class ServiceErrorMixin:
    """Turn a service's ApplicationError into an admin message instead of a 500."""

    def _call(self, request, func, **kwargs):
        try:
            return func(**kwargs)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return None


class _NormalisedKeysForm(forms.ModelForm):
    """Normalise before the model's constraints are checked (tax id digits only, country upper)."""

    def clean_tax_id(self):
        return normalize_tax_id(self.cleaned_data.get("tax_id", ""))

    def clean_country(self):
        return (self.cleaned_data.get("country") or "").strip().upper()


@admin.register(EndCustomer)
class EndCustomerAdmin(ServiceErrorMixin, admin.ModelAdmin):
    form = _NormalisedKeysForm
    list_display = ("name", "normalized_name", "domain", "tax_id", "country", "city", "created_at")
    search_fields = ("name", "normalized_name", "domain", "tax_id")
    list_filter = ("country",)
    fields = ("name", "website", "tax_id", "country", "city", "normalized_name", "domain", "public_id")
    readonly_fields = ("normalized_name", "domain", "public_id")

    def has_add_permission(self, request, obj=None):
        return False  # created by registrations (end_customer_get_or_create)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data.get(f, "") for f in ("name", "website", "tax_id", "country", "city")}
        self._call(request, services.end_customer_update, user=request.user, customer=obj, **data)


@admin.register(DirectAccount)
class DirectAccountAdmin(ServiceErrorMixin, admin.ModelAdmin):
    form = _NormalisedKeysForm
    list_display = ("name", "domain", "tax_id", "country", "owner", "is_active")
    list_filter = ("is_active", "country")
    list_select_related = ("owner",)
    search_fields = ("name", "normalized_name", "domain", "tax_id")
    fields = ("name", "website", "tax_id", "country", "owner", "notes", "is_active", "normalized_name", "domain")
    readonly_fields = ("normalized_name", "domain")

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the flag history refers to it

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data.get(f) for f in ("name", "website", "tax_id", "country", "owner", "notes")}
        for key in ("website", "tax_id", "country", "notes"):
            data[key] = data[key] or ""
        if change:
            data["is_active"] = form.cleaned_data.get("is_active", True)
            saved = self._call(request, services.direct_account_update, user=request.user, account=obj, **data)
        else:
            saved = self._call(request, services.direct_account_create, user=request.user, **data)
        if saved is not None:
            obj.pk = saved.pk


class DealProductInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DealProduct
    extra = 0
    readonly_fields = ("product",)


@admin.register(DealRegistration)
class DealRegistrationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "partner",
        "end_customer",
        "status",
        "stage",
        "value",
        "currency",
        "submitted_at",
        "review_due_at",
        "protected_until",
        "flags",
    )
    list_filter = ("status", "stage", "currency")
    list_select_related = ("partner", "end_customer")
    search_fields = ("reference", "end_customer__name", "partner__name", "title")
    date_hierarchy = "created_at"
    inlines = [DealProductInline]
    show_full_result_count = False  # a COUNT(*) over a million rows on every page is wasted


@admin.register(Conflict)
class ConflictAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "registration_low",
        "registration_high",
        "matched_fields",
        "similarity",
        "status",
        "outcome",
        "detected_at",
        "escalated_at",
    )
    list_filter = ("status", "outcome")
    list_select_related = ("registration_low", "registration_high")
    search_fields = ("registration_low__reference", "registration_high__reference")


@admin.register(ProtectionExtension)
class ProtectionExtensionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("registration", "requested_by", "days", "status", "created_at", "decided_at")
    list_filter = ("status",)
    list_select_related = ("registration", "requested_by")
    search_fields = ("registration__reference",)
    verbose_name = _("protection extension")


# --- forecasts and health -------------------------------------------------------------------
# Targets are plain configuration (audited). Commits are entered through partner_commit_set
# (cabinet, API); runs, snapshots, health and reorder expectations are computed nightly: the
# admin only looks at them.


@admin.register(Target)
class TargetAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("manager", "year", "quarter", "amount")
    list_filter = ("year", "quarter")
    list_select_related = ("manager",)
    search_fields = ("manager__full_name", "manager__email")
    ordering = ("-year", "-quarter", "manager__full_name")


@admin.register(PartnerCommit)
class PartnerCommitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("partner", "year", "quarter", "amount", "currency", "entered_by", "updated_at")
    list_filter = ("year", "quarter", "currency")
    list_select_related = ("partner", "entered_by")
    search_fields = ("partner__name",)


@admin.register(ForecastRun)
class ForecastRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("as_of", "status", "partners_done", "started_at", "finished_at")
    list_filter = ("status",)


@admin.register(ForecastSnapshot)
class ForecastSnapshotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "as_of",
        "partner",
        "year",
        "quarter",
        "forecast",
        "method",
        "error_metric",
        "naive_error",
        "model_error",
        "weighted_pipeline",
        "commit",
    )
    list_filter = ("as_of", "method", "year", "quarter")
    list_select_related = ("partner",)
    search_fields = ("partner__name",)


@admin.register(PartnerHealth)
class PartnerHealthAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("partner", "score", "band", "computed_at")
    list_filter = ("band",)
    list_select_related = ("partner",)
    search_fields = ("partner__name",)


@admin.register(ReorderExpectation)
class ReorderExpectationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("partner", "typical_interval_days", "last_order_on", "predicted_next_on", "reminded_for")
    list_select_related = ("partner",)
    search_fields = ("partner__name",)
