"""The tier engine's state: one status row per partner and the history of every change.

The partner's current tier stays on `partners.Partner.tier` (everything else reads it there);
these tables hold what the engine needs to be transparent and safe to run twice: the numbers of
the last evaluation, the at-risk notice period, a manual lock, a change awaiting approval, and
the history of every change with the numbers that caused it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from prm.models import TimeStampedModel

__all__ = ["TIER_REASON_MAX_LENGTH", "ChangeKind", "ChangeStatus", "PartnerTierStatus", "TierChange"]

# Lock, unlock, manual-set and decision reasons: the staff forms, the API and the services hold it.
TIER_REASON_MAX_LENGTH = 2000


class ChangeKind(models.TextChoices):
    PROMOTION = "promotion", _("Promotion")
    DEMOTION = "demotion", _("Demotion")
    MANUAL = "manual", _("Set by hand")
    LOCK = "lock", _("Locked")
    UNLOCK = "unlock", _("Unlocked")
    AT_RISK = "at_risk", _("At risk")
    RECOVERED = "recovered", _("Recovered")


class ChangeStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    PENDING = "pending_approval", _("Awaiting approval")
    REJECTED = "rejected", _("Rejected")
    # A pending change the engine withdrew because the partner's numbers moved on
    # (e.g. it recovered before a manager approved its demotion), or a lock/manual set replaced.
    CANCELLED = "cancelled", _("Withdrawn")


class TierChange(TimeStampedModel):
    """One line of a partner's tier history, with the numbers that caused it (append-only)."""

    partner = models.ForeignKey(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="tier_changes"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ChangeKind.choices)
    from_tier = models.ForeignKey(
        "partners.Tier", verbose_name=_("from tier"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_tier = models.ForeignKey(
        "partners.Tier", verbose_name=_("to tier"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: the evaluation engine."),
    )
    status = models.CharField(_("status"), max_length=16, choices=ChangeStatus.choices, default=ChangeStatus.APPLIED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        constraints = [
            models.CheckConstraint(name="tier_change_kind_valid", condition=Q(kind__in=ChangeKind.values)),
            models.CheckConstraint(name="tier_change_status_valid", condition=Q(status__in=ChangeStatus.values)),
            # At most one change per partner waits for a manager.
            models.UniqueConstraint(
                fields=["partner"], condition=Q(status="pending_approval"), name="tier_change_one_pending"
            ),
            # Only promotions and demotions go through approval.
            models.CheckConstraint(
                name="tier_change_pending_is_move",
                condition=~Q(status="pending_approval") | Q(kind__in=["promotion", "demotion"]),
            ),
            models.CheckConstraint(
                name="tier_change_decided_has_time",
                condition=~Q(status__in=["rejected"]) | Q(decided_at__isnull=False),
            ),
            # A person's change (manual set, lock, unlock) says why.
            models.CheckConstraint(
                name="tier_change_manual_has_reason",
                condition=~Q(kind__in=["manual", "lock", "unlock"]) | ~Q(reason=""),
            ),
        ]
        indexes = [
            # Partner tier history ("partner_id = :p ORDER BY created_at DESC").
            models.Index(fields=["partner", "-created_at"], name="tier_change_partner_idx"),
            # Report "newly qualified in the period": applied promotions by date.
            models.Index(
                fields=["created_at"],
                condition=Q(kind="promotion", status="applied"),
                name="tier_change_promotion_idx",
            ),
        ]

    def __str__(self):
        return f"{self.partner_id} {self.kind} {self.from_tier_id}→{self.to_tier_id}"


class PartnerTierStatus(TimeStampedModel):
    """The engine's state for one partner (created on its first evaluation)."""

    partner = models.OneToOneField(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.CASCADE, related_name="tier_status"
    )
    # The tier the partner's numbers earn at the last evaluation (may differ from partner.tier
    # during the notice period, under a lock, or while a change awaits approval).
    qualified_tier = models.ForeignKey(
        "partners.Tier",
        verbose_name=_("qualifies for"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    at_risk_since = models.DateTimeField(_("at risk since"), null=True, blank=True)
    at_risk_tier = models.ForeignKey(
        "partners.Tier",
        verbose_name=_("would drop to"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    demotion_due_on = models.DateField(_("demotion due on"), null=True, blank=True)
    locked = models.BooleanField(_("locked"), default=False)
    lock_reason = models.TextField(_("lock reason"), blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("locked by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    last_evaluated_at = models.DateTimeField(_("last evaluated"), null=True, blank=True)
    last_metrics = models.JSONField(_("last metrics"), default=dict, blank=True)
    pending_change = models.OneToOneField(
        TierChange,
        verbose_name=_("change awaiting approval"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # A manager rejected a change to this target; the engine does not propose it again while
    # the partner still qualifies for the same tier (else it would re-propose it every night).
    rejected_target = models.CharField(_("rejected target"), max_length=40, blank=True, editable=False)

    class Meta:
        verbose_name = _("partner tier status")
        verbose_name_plural = _("partner tier statuses")
        constraints = [
            models.CheckConstraint(
                name="tier_status_lock_has_reason",
                condition=Q(locked=False) | (~Q(lock_reason="") & Q(locked_at__isnull=False)),
                violation_error_message=_("A lock needs a reason."),
            ),
            models.CheckConstraint(
                name="tier_status_at_risk_has_due_date",
                condition=Q(at_risk_since__isnull=True) | Q(demotion_due_on__isnull=False),
            ),
            models.CheckConstraint(
                name="tier_status_not_at_risk_when_locked",
                condition=Q(locked=False) | Q(at_risk_since__isnull=True),
            ),
        ]
        indexes = [
            # Report and dashboard: partners at risk, soonest demotion first.
            models.Index(
                fields=["demotion_due_on"], condition=Q(at_risk_since__isnull=False), name="tier_status_at_risk_idx"
            ),
        ]

    def __str__(self):
        return f"{self.partner_id} tier status"

    @property
    def is_at_risk(self) -> bool:
        return self.at_risk_since is not None
