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
    Lead,
    LeadImport,
    LeadOffer,
    PartnerCommit,
    PartnerHealth,
    PartnerSpecialisation,
    Product,
    ProductLine,
    ProtectionExtension,
    ReorderExpectation,
    RoutingDecision,
    RoutingRule,
    SalesRecord,
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


@admin.register(SalesRecord)
class SalesRecordAdmin(admin.ModelAdmin):
    """Read-only: a sale is never edited or deleted (returns are new negative records). Record and
    import sales on the staff pages; the action below returns sales through the service."""

    list_display = (
        "occurred_on",
        "partner",
        "kind",
        "reference",
        "product",
        "quantity",
        "amount",
        "currency",
        "source",
    )
    list_filter = ("kind", "source", "currency")
    search_fields = ("reference", "partner__name", "note")
    date_hierarchy = "occurred_on"
    list_select_related = ("partner", "product")
    readonly_fields = [f.name for f in SalesRecord._meta.fields]
    actions = ["return_in_full"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Return selected sales in full"))
    def return_in_full(self, request, queryset):
        done = 0
        for record in queryset.filter(amount__gt=0).order_by("pk"):
            try:
                services.sales_record_return(actor=request.user, record=record, reason=str(_("Returned in the admin")))
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{record}: {exc.message}", messages.WARNING)
        self.message_user(request, _("%(n)s returns recorded.") % {"n": done}, messages.SUCCESS)


# --- leads --------------------------------------------------------------------------------
# Routing rules and specialisations are configuration (audited). Leads, offers, decisions and
# imports are read-only: routing, acceptance and re-assignment belong to deals.services.leads.


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = (
            "name",
            "position",
            "is_active",
            "countries",
            "regions",
            "product_lines",
            "min_value",
            "max_value",
            "partner_types",
            "tiers",
            "require_specialisation",
            "allow_abroad",
            "acceptance_hours",
            "use_acceptance_boost",
            "use_win_boost",
        )

    def clean_countries(self):
        codes = [c.strip().upper() for c in self.cleaned_data.get("countries") or [] if c.strip()]
        bad = [c for c in codes if len(c) != 2 or not c.isalpha()]
        if bad:
            raise forms.ValidationError(_("Use two-letter country codes, e.g. GB, DE."))
        return codes


@admin.register(RoutingRule)
class RoutingRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = (
        "position",
        "name",
        "is_active",
        "countries",
        "regions",
        "partner_types",
        "require_specialisation",
        "allow_abroad",
        "acceptance_hours",
        "use_acceptance_boost",
        "use_win_boost",
    )
    list_display_links = ("name",)
    list_filter = ("is_active", "allow_abroad", "require_specialisation")
    search_fields = ("name",)
    ordering = ("position",)
    filter_horizontal = ("product_lines", "tiers")
    fieldsets = (
        (None, {"fields": ("name", "position", "is_active")}),
        (_("When (empty = any)"), {"fields": ("countries", "regions", "product_lines", "min_value", "max_value")}),
        (
            _("Pool"),
            {"fields": ("partner_types", "tiers", "require_specialisation", "allow_abroad")},
        ),
        (_("Offer"), {"fields": ("acceptance_hours", "use_acceptance_boost", "use_win_boost")}),
    )


@admin.register(PartnerSpecialisation)
class PartnerSpecialisationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("partner", "product_line")
    list_filter = ("product_line",)
    list_select_related = ("partner", "product_line")
    search_fields = ("partner__name",)
    autocomplete_fields = ("partner",)


class LeadOfferInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LeadOffer
    extra = 0
    fields = ("partner", "status", "offered_at", "expires_at", "responded_at", "decline_reason", "spam")
    readonly_fields = fields
    ordering = ("offered_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner")


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("reference", "customer_name", "country", "status", "offered_to", "offer_expires_at", "created_at")
    list_filter = ("status", "source", "country")
    list_select_related = ("offered_to",)
    search_fields = ("reference", "customer_name")
    date_hierarchy = "created_at"
    inlines = (LeadOfferInline,)


@admin.register(LeadOffer)
class LeadOfferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("lead", "partner", "status", "offered_at", "expires_at", "responded_at", "spam")
    list_filter = ("status", "spam")
    list_select_related = ("lead", "partner")
    search_fields = ("lead__reference", "partner__name")


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("lead", "attempt", "rule_name", "band", "partner", "manual", "created_at")
    list_filter = ("band", "manual")
    list_select_related = ("lead", "partner")
    search_fields = ("lead__reference", "partner__name")


@admin.register(LeadImport)
class LeadImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("file_name", "status", "total", "created_count", "created_by", "created_at", "finished_at")
    list_filter = ("status",)
    list_select_related = ("created_by",)
    search_fields = ("file_name",)
