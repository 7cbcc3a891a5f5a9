"""Django admin for partners and their records.

State changes that have a service go through it (status, verification, profile edits,
invitation revocation) with the admin user as the actor; plain corrections elsewhere are
audited by AuditedAdminMixin. The tier is read-only here: it changes through the tier engine
(the staff partner page's tier panel), which keeps the tier history. Changelists select their foreign keys up front: no N+1.
"""

import datetime

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from partners import services
from partners.models import (
    Agreement,
    AgreementStatus,
    Certification,
    Contact,
    Interaction,
    Invitation,
    KeyAccountProfile,
    Partner,
    PartnerStatus,
    Tier,
)
from prm.admin import AuditedAdminMixin
from prm.exceptions import ApplicationError

ADMIN_ACTION_REASON = "Admin action"
ADMIN_EDIT_REASON = "Admin edit"
TIMESTAMPS = ("created_at", "updated_at")


# --- Tiers ------------------------------------------------------------------------------


@admin.register(Tier)
class TierAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "rank",
        "min_revenue",
        "min_certified_people",
        "min_won_deals",
        "discount_pct",
        "protection_days",
        "points_multiplier",
        "mdf_eligible",
        "lead_weight",
        "partner_count",
    )
    list_filter = ("mdf_eligible",)
    search_fields = ("name", "code")
    ordering = ("rank",)
    prepopulated_fields = {"code": ("name",)}
    readonly_fields = TIMESTAMPS
    fieldsets = (
        (None, {"fields": ("name", "code", "rank", "description")}),
        (_("Qualification (trailing 12 months)"), {"fields": ("min_revenue", "min_certified_people", "min_won_deals")}),
        (
            _("Benefits"),
            {
                "fields": (
                    "discount_pct",
                    "protection_days",
                    "max_extensions",
                    "points_multiplier",
                    "mdf_eligible",
                    "mdf_share_pct",
                    "lead_weight",
                    "max_open_leads",
                )
            },
        ),
        (_("Dates"), {"fields": TIMESTAMPS}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(num_partners=Count("partners"))

    @admin.display(description=_("partners"), ordering="num_partners")
    def partner_count(self, obj):
        return obj.num_partners


# --- Partners ---------------------------------------------------------------------------


class KeyAccountProfileInline(admin.StackedInline):
    model = KeyAccountProfile
    extra = 0
    max_num = 1
    can_delete = False
    readonly_fields = TIMESTAMPS
    classes = ("collapse",)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = (
        "full_name",
        "job_title",
        "role",
        "email",
        "phone",
        "is_decision_maker",
        "birthday",
        "user",
        "is_active",
    )
    autocomplete_fields = ("user",)
    show_change_link = True


class AgreementInline(admin.TabularInline):
    model = Agreement
    extra = 0
    fields = (
        "number",
        "status",
        "commission_pct",
        "discount_pct",
        "starts_on",
        "ends_on",
        "auto_renew",
        "signed_on",
    )
    show_change_link = True


class RenewalDueFilter(admin.SimpleListFilter):
    """Active agreements ending within 30 days: the renewal reminder list."""

    title = _("renewal")
    parameter_name = "renewal"

    def lookups(self, request, model_admin):
        return (("30d", _("Ends within 30 days")), ("ended", _("End date passed")))

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "30d":
            return queryset.filter(
                status=AgreementStatus.ACTIVE, ends_on__gte=today, ends_on__lte=today + datetime.timedelta(days=30)
            )
        if self.value() == "ended":
            return queryset.filter(ends_on__lt=today)
        return queryset


@admin.register(Partner)
class PartnerAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "legal_name",
        "partner_type",
        "status",
        "tier",
        "region",
        "country",
        "city",
        "owner",
        "verified",
        "is_key_account",
        "is_dormant",
        "last_activity_at",
    )
    list_filter = (
        "status",
        "partner_type",
        "tier",
        "region",
        "is_key_account",
        "is_dormant",
        "verified",
        "size",
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("name", "legal_name", "tax_id", "website_domain", "email", "city")
    list_select_related = ("tier", "owner")
    autocomplete_fields = ("owner", "recruited_by")
    date_hierarchy = "created_at"
    inlines = (KeyAccountProfileInline, ContactInline, AgreementInline)
    actions = ("suspend", "reactivate", "terminate", "mark_verified", "unmark_verified")
    # Status, tier date, verification and activity belong to services and tasks.
    base_readonly_fields = (
        "public_id",
        "status_changed_at",
        "tier_since",
        "verified",
        "verified_at",
        "is_dormant",
        "last_activity_at",
        *TIMESTAMPS,
    )
    fieldsets = (
        (
            _("Company"),
            {
                "fields": (
                    "name",
                    "legal_name",
                    "partner_type",
                    "size",
                    "industries",
                    "tax_id",
                    "description",
                    "public_id",
                )
            },
        ),
        (_("Location"), {"fields": ("country", "region", "city", "address", "latitude", "longitude")}),
        (_("Contact"), {"fields": ("website_domain", "email", "phone")}),
        (
            _("Channel"),
            {
                "fields": (
                    "status",
                    "status_changed_at",
                    "owner",
                    "tier",
                    "tier_since",
                    "verified",
                    "verified_at",
                    "is_key_account",
                    "recruited_by",
                )
            },
        ),
        (_("Lead routing"), {"fields": ("lead_weight", "max_open_leads")}),
        (_("Activity"), {"fields": ("is_dormant", "last_activity_at", *TIMESTAMPS)}),
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.base_readonly_fields
        # An existing partner changes status only through the lifecycle actions, and its tier only
        # through the tier engine (the staff partner page's tier panel: set, lock, unlock), which
        # records the tier history — partners cannot write that history (programs sits above it).
        return (*self.base_readonly_fields, "status", "tier")

    def save_model(self, request, obj, form, change):
        """Edits go through the partner services, so they are validated and audited exactly as
        the staff pages do it."""
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in services.STAFF_EDITABLE_FIELDS}
        if not change:
            fields = {
                name: form.cleaned_data[name] for name in services.STAFF_EDITABLE_FIELDS if name in form.cleaned_data
            }
            partner = services.partner_create(
                actor=request.user,
                status=form.cleaned_data.get("status") or PartnerStatus.PROSPECT,
                tier=form.cleaned_data.get("tier"),
                **fields,
            )
            obj.pk = partner.pk
            obj._state.adding = False
        else:
            if data:
                services.partner_update(actor=request.user, partner=obj, data=data, reason=ADMIN_EDIT_REASON)
        obj.refresh_from_db()

    def prepare_inline_instance(self, request, obj):
        # partner_create/partner_update already made the KAM profile of a key account; the
        # inline's "new" profile then fills that row instead of colliding with it.
        if isinstance(obj, KeyAccountProfile) and obj._state.adding:
            existing = KeyAccountProfile.objects.filter(partner_id=obj.partner_id).first()
            if existing is not None:
                obj.pk = existing.pk
                obj.created_at = existing.created_at
                obj._state.adding = False

    # Lifecycle actions: the same service as the staff pages; illegal moves are reported per
    # partner, never a server error, and never stop the others.
    def _change_status(self, request, queryset, status: str) -> None:
        done = 0
        for partner in queryset:
            try:
                services.partner_change_status(
                    actor=request.user, partner=partner, status=status, reason=ADMIN_ACTION_REASON
                )
            except ApplicationError as exc:
                self.message_user(request, f"{partner}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            label = PartnerStatus(status).label
            self.message_user(
                request,
                ngettext("%(count)d partner is now “%(status)s”.", "%(count)d partners are now “%(status)s”.", done)
                % {"count": done, "status": label},
                messages.SUCCESS,
            )

    @admin.action(description=_("Suspend selected partners"), permissions=["change"])
    def suspend(self, request, queryset):
        self._change_status(request, queryset, PartnerStatus.SUSPENDED)

    @admin.action(description=_("Reactivate selected partners"), permissions=["change"])
    def reactivate(self, request, queryset):
        self._change_status(request, queryset, PartnerStatus.ACTIVE)

    @admin.action(
        description=_("Terminate selected partners (deactivates their cabinet users)"), permissions=["change"]
    )
    def terminate(self, request, queryset):
        self._change_status(request, queryset, PartnerStatus.TERMINATED)

    def _set_verified(self, request, queryset, verified: bool) -> None:
        done = 0
        for partner in queryset:
            try:
                services.partner_set_verified(
                    actor=request.user, partner=partner, verified=verified, reason=ADMIN_ACTION_REASON
                )
            except ApplicationError as exc:
                self.message_user(request, f"{partner}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%d partner updated.", "%d partners updated.", done) % done,
                messages.SUCCESS,
            )

    @admin.action(description=_("Mark selected partners as verified"), permissions=["change"])
    def mark_verified(self, request, queryset):
        self._set_verified(request, queryset, True)

    @admin.action(description=_("Remove the verified mark"), permissions=["change"])
    def unmark_verified(self, request, queryset):
        self._set_verified(request, queryset, False)


@admin.register(KeyAccountProfile)
class KeyAccountProfileAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("partner", "senior_sponsor", "currency", "opportunity_1y", "opportunity_3y", "opportunity_5y")
    list_filter = ("currency", "partner__region", "partner__tier")
    search_fields = ("partner__name", "partner__legal_name", "senior_sponsor")
    list_select_related = ("partner",)
    autocomplete_fields = ("partner",)
    readonly_fields = TIMESTAMPS


# --- People, agreements, interactions -----------------------------------------------------


@admin.register(Contact)
class ContactAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "full_name",
        "partner",
        "job_title",
        "role",
        "is_decision_maker",
        "email",
        "phone",
        "birthday",
        "user",
        "is_active",
    )
    list_filter = ("role", "is_decision_maker", "is_active", "partner__region")
    search_fields = ("full_name", "email", "phone", "partner__name")
    list_select_related = ("partner", "user")
    autocomplete_fields = ("partner", "user")
    readonly_fields = ("public_id", *TIMESTAMPS)


@admin.register(Agreement)
class AgreementAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "partner",
        "title",
        "status",
        "commission_pct",
        "discount_pct",
        "starts_on",
        "ends_on",
        "auto_renew",
        "signed_on",
        "vendor_responsible",
    )
    list_filter = ("status", "auto_renew", RenewalDueFilter, "partner__region")
    search_fields = ("number", "title", "partner__name", "partner__legal_name")
    list_select_related = ("partner", "vendor_responsible")
    autocomplete_fields = ("partner", "vendor_responsible", "partner_responsible")
    date_hierarchy = "starts_on"
    readonly_fields = ("public_id", *TIMESTAMPS)


class NextStepFilter(admin.SimpleListFilter):
    title = _("next step")
    parameter_name = "step"

    def lookups(self, request, model_admin):
        return (("open", _("Open")), ("overdue", _("Overdue")), ("done", _("Done")))

    def queryset(self, request, queryset):
        open_steps = queryset.exclude(next_step="").filter(next_step_done_at__isnull=True)
        if self.value() == "open":
            return open_steps
        if self.value() == "overdue":
            return open_steps.filter(next_step_due__lt=timezone.localdate())
        if self.value() == "done":
            return queryset.filter(next_step_done_at__isnull=False)
        return queryset


@admin.register(Interaction)
class InteractionAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "partner",
        "kind",
        "subject",
        "author",
        "contact",
        "next_step_due",
        "next_step_done_at",
    )
    list_filter = ("kind", NextStepFilter, "partner__region")
    search_fields = ("subject", "body", "next_step", "partner__name")
    list_select_related = ("partner", "author", "contact")
    autocomplete_fields = ("partner", "author", "contact")
    date_hierarchy = "occurred_at"
    readonly_fields = ("public_id", *TIMESTAMPS)


@admin.register(Invitation)
class InvitationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Invitations are created by partner admins (the e-mail carries the only copy of the
    token), so the admin can look and revoke, not add."""

    list_display = ("email", "partner", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role", ("accepted_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "full_name", "partner__name")
    list_select_related = ("partner", "invited_by")
    exclude = ("token_hash",)
    readonly_fields = (
        "public_id",
        "partner",
        "email",
        "full_name",
        "role",
        "invited_by",
        "expires_at",
        "accepted_at",
        "revoked_at",
        "accepted_user",
        *TIMESTAMPS,
    )
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("partners.change_invitation")

    @admin.action(description=_("Revoke selected invitations"), permissions=["revoke"])
    def revoke(self, request, queryset):
        done = 0
        for invitation in queryset.select_related("partner"):
            try:
                services.invitation_revoke(actor=request.user, invitation=invitation)
            except ApplicationError as exc:
                self.message_user(request, f"{invitation.email}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, ngettext("%d invitation revoked.", "%d invitations revoked.", done) % done, messages.SUCCESS
            )


class CertificationAdminForm(forms.ModelForm):
    class Meta:
        model = Certification
        fields = ["contact", "course", "certificate_number", "earned_on", "expires_on"]

    def clean_earned_on(self):
        earned_on = self.cleaned_data["earned_on"]
        if earned_on and earned_on > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return earned_on


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    """Writes go through partners.services (validated and audited like the staff pages); deleting
    revokes through the service so the audit trail keeps the certificate."""

    form = CertificationAdminForm
    list_display = ("course", "contact", "partner_name", "earned_on", "expires_on", "certificate_number")
    list_filter = ("earned_on", "expires_on")
    search_fields = ("course", "certificate_number", "contact__full_name", "contact__partner__name")
    list_select_related = ("contact__partner",)
    autocomplete_fields = ("contact",)

    @admin.display(description=_("partner"), ordering="contact__partner__name")
    def partner_name(self, obj):
        return obj.contact.partner.name

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in ("course", "certificate_number", "earned_on", "expires_on")}
        if change:
            changed = {k: v for k, v in data.items() if k in form.changed_data}
            saved = services.certification_update(actor=request.user, certification=obj, data=changed)
        else:
            saved = services.certification_create(actor=request.user, contact=form.cleaned_data["contact"], **data)
        obj.pk = saved.pk

    def get_readonly_fields(self, request, obj=None):
        return ("contact",) if obj else ()

    def delete_model(self, request, obj):
        services.certification_revoke(actor=request.user, certification=obj, reason=str(_("Deleted in the admin")))

    def delete_queryset(self, request, queryset):
        for cert in queryset.order_by("pk"):
            self.delete_model(request, cert)
