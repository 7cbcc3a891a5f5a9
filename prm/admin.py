"""Django admin for the cross-cutting models, and the audit mixin every app's admin uses.

The admin is where administrators *correct data*, so every add, change and delete made
through it leaves an AuditLog row (who, when, before, after, why) — see AuditedAdminMixin.
Where a service owns a state change (partner status, tier, verification), the admin calls
that service instead of writing the field itself.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.db import models
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from prm.audit import audit_record, diff, snapshot
from prm.models import PARTNER_ROLES, STAFF_ROLES, AuditLog, ExchangeRate, Notification, User

ADMIN_EDIT_REASON = "admin edit"


def _audit_fields(instance: models.Model, exclude: tuple[str, ...]) -> list[str]:
    return [f.attname for f in instance._meta.concrete_fields if f.name not in exclude and f.attname not in exclude]


class AuditedAdminMixin:
    """Writes an audit record for every add, change and delete made through the admin,
    including rows saved by inlines. Fields in `audit_exclude` (secrets, bookkeeping) are
    left out of the before/after snapshots."""

    audit_exclude: tuple[str, ...] = ("password", "updated_at")

    def _audit_snapshot(self, obj) -> dict:
        return snapshot(obj, _audit_fields(obj, self.audit_exclude))

    def _audit_before(self, obj) -> dict:
        if obj.pk is None:
            return {}
        fresh = type(obj)._default_manager.filter(pk=obj.pk).first()
        return self._audit_snapshot(fresh) if fresh is not None else {}

    def _audit_save(self, request, obj, save) -> None:
        adding = obj._state.adding or obj.pk is None
        before = {} if adding else self._audit_before(obj)
        save()
        after = self._audit_snapshot(obj)
        if adding:
            audit_record(
                actor=request.user,
                action=f"{obj._meta.model_name}.admin_create",
                instance=obj,
                after=after,
                reason=ADMIN_EDIT_REASON,
            )
            return
        b, a = diff(before, after)
        if b or a:
            audit_record(
                actor=request.user,
                action=f"{obj._meta.model_name}.admin_update",
                instance=obj,
                before=b,
                after=a,
                reason=ADMIN_EDIT_REASON,
            )

    def _audit_delete(self, request, obj) -> None:
        audit_record(
            actor=request.user,
            action=f"{obj._meta.model_name}.admin_delete",
            instance=obj,
            before=self._audit_snapshot(obj),
            reason=ADMIN_EDIT_REASON,
        )

    def save_model(self, request, obj, form, change):
        self._audit_save(request, obj, lambda: super(AuditedAdminMixin, self).save_model(request, obj, form, change))

    def delete_model(self, request, obj):
        self._audit_delete(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The "delete selected" action: one audit row per object, not one per batch.
        for obj in queryset:
            self._audit_delete(request, obj)
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            self._audit_delete(request, obj)
            obj.delete()
        for obj in instances:
            self.prepare_inline_instance(request, obj)
            self._audit_save(request, obj, obj.save)
        formset.save_m2m()

    def prepare_inline_instance(self, request, obj) -> None:
        """Hook for admins whose inline rows need adjusting before they are saved."""


# --- Users ------------------------------------------------------------------------------


class RoleMatchesPartnerFormMixin:
    """The database insists: partner roles have a partner, staff roles have none. Say so in the
    form, in words, before the constraint turns it into a generic error."""

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        partner = cleaned.get("partner")
        if role in PARTNER_ROLES and partner is None:
            self.add_error("partner", _("A partner admin or partner rep must belong to a partner: choose one."))
        elif role in STAFF_ROLES and partner is not None:
            self.add_error(
                "partner",
                _(
                    "Vendor staff (administrators, channel managers, channel leads) do not belong to a partner: "
                    "clear this field or choose a partner role."
                ),
            )
        if role in PARTNER_ROLES:
            for flag in ("is_staff", "is_superuser"):
                if cleaned.get(flag):
                    self.add_error(flag, _("Partner users work in the cabinet and cannot use the admin site."))
        return cleaned


class PrmUserCreationForm(RoleMatchesPartnerFormMixin, BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "role", "partner", "reports_to", "is_staff", "is_superuser")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("A user with this e-mail already exists."))
        return email


class PrmUserChangeForm(RoleMatchesPartnerFormMixin, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    form = PrmUserChangeForm
    add_form = PrmUserCreationForm
    list_display = ("email", "full_name", "role", "partner", "reports_to", "is_active", "is_staff", "last_login")
    list_filter = (
        "role",
        "is_active",
        "is_staff",
        "is_superuser",
        ("partner", admin.RelatedOnlyFieldListFilter),
        "language",
    )
    list_select_related = ("partner", "reports_to")
    search_fields = ("email", "full_name", "partner__name", "job_title")
    ordering = ("email",)
    autocomplete_fields = ("partner", "reports_to")
    readonly_fields = ("public_id", "last_login", "date_joined", "updated_at")
    filter_horizontal = ("groups", "user_permissions")
    fieldsets = (
        (None, {"fields": ("email", "password", "public_id")}),
        (_("Person"), {"fields": ("full_name", "job_title", "phone", "language", "email_notifications")}),
        (_("Role"), {"fields": ("role", "partner", "reports_to")}),
        (
            _("Access"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "full_name",
                    "role",
                    "partner",
                    "reports_to",
                    "is_staff",
                    "is_superuser",
                    "password1",
                    "password2",
                ),
            },
        ),
    )


# --- Audit trail ------------------------------------------------------------------------


def _pretty_json(value) -> str:
    if not value:
        return "—"
    return format_html(
        '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True),
    )


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Append-only: nobody — not even a superuser — adds, edits or deletes audit rows here."""

    list_display = ("created_at", "actor", "action", "object_type", "object_id", "object_repr", "partner_id", "reason")
    list_filter = ("action", "object_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("object_repr", "object_id", "actor__email", "reason")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "partner_id",
        "reason",
        "before_pretty",
        "after_pretty",
    )
    readonly_fields = fields
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("before"))
    def before_pretty(self, obj):
        return _pretty_json(obj.before)

    @admin.display(description=_("after"))
    def after_pretty(self, obj):
        return _pretty_json(obj.after)


# --- Notifications ----------------------------------------------------------------------


class NotificationReadFilter(admin.SimpleListFilter):
    title = _("read")
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return (("no", _("Unread")), ("yes", _("Read")))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-mostly: notifications are written by reminders and services. Administrators may
    look, mark them read, or delete noise."""

    list_display = ("created_at", "user", "kind", "title", "read_at", "emailed_at")
    list_filter = ("kind", NotificationReadFilter, ("emailed_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "user__email", "user__full_name", "dedupe_key")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "user",
        "kind",
        "title",
        "body",
        "url",
        "dedupe_key",
        "read_at",
        "emailed_at",
    )
    actions = ("mark_read",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The change page is view-only; "mark as read" is an action.
        return False

    @admin.action(description=_("Mark selected notifications as read"), permissions=["view"])
    def mark_read(self, request, queryset):
        updated = queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
        self.message_user(
            request,
            ngettext("%d notification marked as read.", "%d notifications marked as read.", updated) % updated,
            messages.SUCCESS,
        )


@admin.register(ExchangeRate)
class ExchangeRateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("currency", "valid_from", "rate", "created_at")
    list_filter = ("currency",)
    date_hierarchy = "valid_from"
    ordering = ("currency", "-valid_from")
