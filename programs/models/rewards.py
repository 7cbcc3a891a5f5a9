"""The rewards catalogue and redemption requests."""

import uuid

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.translation import gettext_lazy as _

from prm.models import TimeStampedModel

__all__ = [
    "REDEMPTION_TEXT_MAX_LENGTH",
    "REWARD_DESCRIPTION_MAX_LENGTH",
    "REWARD_MAX_POINTS_COST",
    "Redemption",
    "RedemptionStatus",
    "Reward",
    "RewardCategory",
]

# Limits the staff form, the API serializers, the services and the database all hold.
REWARD_MAX_POINTS_COST = 100_000_000
REWARD_DESCRIPTION_MAX_LENGTH = 4000
REDEMPTION_TEXT_MAX_LENGTH = 2000  # the partner's note and the staff's rejection reason


def _text_at_most(prefix: str, field: str, limit: int) -> models.CheckConstraint:
    return models.CheckConstraint(name=f"{prefix}_{field}_max_length", condition=LessThanOrEqual(Length(field), limit))


class RewardCategory(models.TextChoices):
    GIFT = "gift", _("Gift")
    TICKET = "ticket", _("Event ticket")
    TRAINING = "training", _("Training voucher")
    FUND_CREDIT = "fund_credit", _("Fund credit")


class Reward(TimeStampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    # Optional translations of the name shown in the cabinet: {"ru": "…", "zh-hans": "…"}.
    name_i18n = models.JSONField(_("translated names"), default=dict, blank=True)
    description = models.TextField(
        _("description"), blank=True, validators=[MaxLengthValidator(REWARD_DESCRIPTION_MAX_LENGTH)]
    )
    category = models.CharField(_("category"), max_length=16, choices=RewardCategory.choices)
    points_cost = models.PositiveIntegerField(
        _("points cost"),
        validators=[
            MaxValueValidator(REWARD_MAX_POINTS_COST, message=_("A reward costs at most %(limit_value)s points."))
        ],
    )
    # Null = unlimited. Decremented by a conditional UPDATE when a redemption is requested.
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty means unlimited."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["category", "points_cost", "name"]
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        constraints = [
            models.CheckConstraint(name="reward_category_valid", condition=Q(category__in=RewardCategory.values)),
            models.CheckConstraint(name="reward_cost_positive", condition=Q(points_cost__gt=0)),
            models.CheckConstraint(name="reward_cost_max", condition=Q(points_cost__lte=REWARD_MAX_POINTS_COST)),
            _text_at_most("reward", "description", REWARD_DESCRIPTION_MAX_LENGTH),
            models.CheckConstraint(
                name="reward_stock_nonneg",
                condition=Q(stock__isnull=True) | Q(stock__gte=0),
                violation_error_message=_("Stock cannot go below zero."),
            ),
        ]

    def __str__(self):
        return self.name

    def display_name(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        lang = (language or get_language() or "en").lower()
        return self.name_i18n.get(lang) or self.name_i18n.get(lang.split("-")[0]) or self.name


class RedemptionStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    FULFILLED = "fulfilled", _("Fulfilled")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_REDEMPTION_STATUSES = (RedemptionStatus.REQUESTED, RedemptionStatus.APPROVED)


class Redemption(TimeStampedModel):
    """A partner admin spends points on a reward. Points are debited at request time (a ledger
    entry with source "redemption"/id); rejection or cancellation returns them with a
    reversing entry and restores the stock."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="redemptions"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="redemptions",
    )
    reward = models.ForeignKey(Reward, verbose_name=_("reward"), on_delete=models.PROTECT, related_name="redemptions")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    points = models.PositiveIntegerField(_("points"))
    status = models.CharField(
        _("status"), max_length=10, choices=RedemptionStatus.choices, default=RedemptionStatus.REQUESTED
    )
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    decision_reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decided_redemptions",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("fulfilled"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.CheckConstraint(name="redemption_status_valid", condition=Q(status__in=RedemptionStatus.values)),
            models.CheckConstraint(name="redemption_quantity_positive", condition=Q(quantity__gt=0)),
            models.CheckConstraint(name="redemption_points_positive", condition=Q(points__gt=0)),
            models.CheckConstraint(
                name="redemption_rejected_has_reason",
                condition=~Q(status=RedemptionStatus.REJECTED) | ~Q(decision_reason=""),
            ),
            models.CheckConstraint(
                name="redemption_decided_has_time",
                condition=~Q(
                    status__in=[RedemptionStatus.APPROVED, RedemptionStatus.FULFILLED, RedemptionStatus.REJECTED]
                )
                | Q(decided_at__isnull=False),
            ),
            models.CheckConstraint(
                name="redemption_fulfilled_has_time",
                condition=~Q(status=RedemptionStatus.FULFILLED) | Q(fulfilled_at__isnull=False),
            ),
            _text_at_most("redemption", "note", REDEMPTION_TEXT_MAX_LENGTH),
            _text_at_most("redemption", "decision_reason", REDEMPTION_TEXT_MAX_LENGTH),
        ]
        indexes = [
            # Staff queue: "WHERE status IN ('requested','approved') ORDER BY created_at".
            models.Index(
                fields=["status", "created_at"],
                name="redemption_queue_idx",
                condition=Q(status__in=["requested", "approved"]),
            ),
            # Partner's own redemptions, newest first.
            models.Index(fields=["partner", "-created_at"], name="redemption_partner_idx"),
        ]

    def __str__(self):
        return f"{self.reward} × {self.quantity} ({self.get_status_display()})"
