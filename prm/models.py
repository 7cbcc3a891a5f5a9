"""Cross-cutting models: the user, the audit trail and in-app notifications."""

import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class Currency(models.TextChoices):
    RUB = "RUB", "RUB ₽"
    USD = "USD", "USD $"
    EUR = "EUR", "EUR €"
    CNY = "CNY", "CNY ¥"
    KZT = "KZT", "KZT ₸"
    BYN = "BYN", "BYN Br"


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    CHANNEL_MANAGER = "channel_manager", _("Channel manager")
    CHANNEL_LEAD = "channel_lead", _("Channel lead")
    PARTNER_ADMIN = "partner_admin", _("Partner admin")
    PARTNER_REP = "partner_rep", _("Partner rep")


STAFF_ROLES = (Role.ADMINISTRATOR, Role.CHANNEL_MANAGER, Role.CHANNEL_LEAD)
PARTNER_ROLES = (Role.PARTNER_ADMIN, Role.PARTNER_REP)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True, role=Role.ADMINISTRATOR)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in: vendor staff, or a member of exactly one partner company."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("e-mail"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    # Partner users belong to exactly one partner; staff to none (enforced below).
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    # A channel manager's lead: where escalations go.
    reports_to = models.ForeignKey(
        "self",
        verbose_name=_("reports to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    email_notifications = models.BooleanField(_("e-mail notifications"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("admin site access"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["full_name"]
        constraints = [
            models.CheckConstraint(
                name="user_role_valid",
                condition=Q(role__in=[r.value for r in Role]),
            ),
            # Partner roles have a partner; staff roles never do.
            models.CheckConstraint(
                name="user_partner_matches_role",
                condition=(
                    Q(role__in=[r.value for r in PARTNER_ROLES], partner__isnull=False)
                    | Q(role__in=[r.value for r in STAFF_ROLES], partner__isnull=True)
                ),
            ),
        ]

    def __str__(self):
        return f"{self.full_name} <{self.email}>"

    def clean(self):
        super().clean()
        self.email = self.email.lower()

    @property
    def is_vendor_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_partner_user(self) -> bool:
        return self.role in PARTNER_ROLES

    @property
    def is_partner_admin(self) -> bool:
        return self.role == Role.PARTNER_ADMIN

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email


class AuditLog(models.Model):
    """Append-only record of every state change: who, when, before, after, why."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=255, blank=True)
    # The partner the record belongs to, so a partner's trail can be listed without joins.
    partner_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # History of one object, newest first (object pages, admin).
            models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object_idx"),
            # A partner's whole trail (partner page).
            models.Index(fields=["partner_id", "-created_at"], name="audit_partner_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"


class Notification(models.Model):
    """In-app notification; e-mailed too when the user wants e-mail."""

    created_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=64)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    # A reminder is identified by its key (e.g. "protection-14d:DR-2026-000123"): never sent twice.
    dedupe_key = models.CharField(max_length=200, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"], condition=~Q(dedupe_key=""), name="notification_once_per_key"
            )
        ]
        indexes = [
            # The bell: a user's unread notifications, newest first.
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_inbox_idx"),
        ]

    def __str__(self):
        return f"{self.user_id}: {self.title}"


class ExchangeRate(models.Model):
    """How many units of the base currency one unit of `currency` was worth from `valid_from` on.

    Reports convert with the latest rate on or before the date of the amount.
    """

    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    valid_from = models.DateField(_("valid from"))
    rate = models.DecimalField(_("rate to base currency"), max_digits=18, decimal_places=8)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["currency", "-valid_from"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="exchange_rate_one_per_day"),
            models.CheckConstraint(name="exchange_rate_positive", condition=Q(rate__gt=0)),
        ]

    def __str__(self):
        return f"{self.currency} {self.valid_from}: {self.rate}"
