"""The earnings ledger (points now; rebates, commissions, SPIFFs and fund reimbursements later),
the earning rules behind points, and the per-partner points balance kept beside the ledger.

The ledger is append-only: amounts, partner, kind and source are never updated and rows are
never deleted (a database trigger refuses it, see the `ledger` migration); a correction is a
new entry that `reverses` the original. The only updates are state transitions.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from prm.models import TimeStampedModel

__all__ = [
    "CLAWBACK_SOURCES",
    "CapPeriod",
    "EarningEvent",
    "EarningRule",
    "EntryKind",
    "EntryState",
    "LedgerEntry",
    "PointsBalance",
    "POINTS",
    "SourceType",
]

POINTS = "points"


class EarningEvent(models.TextChoices):
    DEAL_WON = "deal_won", _("Deal won")
    REGISTRATION_APPROVED = "registration_approved", _("Registration approved")
    CERTIFICATION_EARNED = "certification_earned", _("Certification earned")
    LEAD_ACCEPTED_IN_SLA = "lead_accepted_in_sla", _("Lead accepted within SLA")
    SALES_REPORTED = "sales_reported", _("Sales reported")


# Events whose points can be "per 1,000 of value in the base currency".
VALUE_EVENTS = (EarningEvent.DEAL_WON, EarningEvent.SALES_REPORTED)


class CapPeriod(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class EarningRule(TimeStampedModel):
    """How many points an event earns. Admin-configured; several rules may apply to one event
    (each credits once per event: the ledger's unique key includes the rule)."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    event = models.CharField(_("event"), max_length=32, choices=EarningEvent.choices)
    points = models.DecimalField(_("points"), max_digits=12, decimal_places=2)
    per_thousand = models.BooleanField(
        _("per 1,000 of value"),
        default=False,
        help_text=_("Points per 1,000 of the deal or sale value in the base currency (deal won, sales reported)."),
    )
    active = models.BooleanField(_("active"), default=True)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True, help_text=_("Empty means open-ended."))
    applies_tier_multiplier = models.BooleanField(_("apply the tier multiplier"), default=True)
    cap_period = models.CharField(_("cap period"), max_length=8, choices=CapPeriod.choices, blank=True)
    cap_per_partner = models.PositiveIntegerField(_("cap per partner per period"), null=True, blank=True)
    cap_per_person = models.PositiveIntegerField(_("cap per person per period"), null=True, blank=True)

    class Meta:
        ordering = ["event", "name"]
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        constraints = [
            models.CheckConstraint(name="earningrule_event_valid", condition=Q(event__in=EarningEvent.values)),
            models.CheckConstraint(name="earningrule_points_positive", condition=Q(points__gt=0)),
            models.CheckConstraint(
                name="earningrule_per_thousand_value_events",
                condition=Q(per_thousand=False) | Q(event__in=[e.value for e in VALUE_EVENTS]),
                violation_error_message=_("Only deal won and sales reported can earn per 1,000 of value."),
            ),
            models.CheckConstraint(
                name="earningrule_window_ordered",
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                violation_error_message=_("The rule must end on or after the day it starts."),
            ),
            models.CheckConstraint(
                name="earningrule_cap_needs_period",
                condition=(Q(cap_per_partner__isnull=True) & Q(cap_per_person__isnull=True)) | ~Q(cap_period=""),
                violation_error_message=_("A cap needs a period (month, quarter or year)."),
            ),
        ]

    def __str__(self):
        return self.name


class EntryKind(models.TextChoices):
    POINTS = "points", _("Points")
    REBATE = "rebate", _("Rebate")
    COMMISSION = "commission", _("Commission")
    SPIFF = "spiff", _("SPIFF")
    FUND_REIMBURSEMENT = "fund_reimbursement", _("Fund reimbursement")


class EntryState(models.TextChoices):
    ACCRUED = "accrued", _("Accrued")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")
    REVERSED = "reversed", _("Reversed")


class SourceType(models.TextChoices):
    """What caused an entry. Event accruals use the EarningEvent values."""

    DEAL_WON = "deal_won", _("Deal won")
    REGISTRATION_APPROVED = "registration_approved", _("Registration approved")
    CERTIFICATION_EARNED = "certification_earned", _("Certification earned")
    LEAD_ACCEPTED_IN_SLA = "lead_accepted_in_sla", _("Lead accepted within SLA")
    SALES_REPORTED = "sales_reported", _("Sales reported")
    REDEMPTION = "redemption", _("Redemption")
    REDEMPTION_RETURN = "redemption_return", _("Redemption returned")
    ADJUSTMENT = "adjustment", _("Manual adjustment")
    REVERSAL = "reversal", _("Reversal")
    EXPIRY = "expiry", _("Points expired")
    # Clawbacks (programs.services.ledger_clawback): points earned by an event taken back
    # because the event was undone. Source id = the return's SalesRecord id / the revoked
    # certificate's id; rule = the rule of the credit taken back; `reverses` = that credit.
    SALES_RETURNED = "sales_returned", _("Sale returned")
    CERTIFICATION_REVOKED = "certification_revoked", _("Certificate revoked")


# Sources of clawback entries, which may record a zero amount (see ledger_amount_nonzero).
CLAWBACK_SOURCES = (SourceType.SALES_RETURNED, SourceType.CERTIFICATION_REVOKED)


class LedgerEntry(TimeStampedModel):
    """One credit (positive) or debit (negative) of points or money to a partner (optionally to
    one of its people).

    Its references (partner, person, rule, author, reversed entry) are enforced by the database
    once per INSERT statement rather than once per row (a foreign key's trigger): a set-based
    accrual of a million entries would otherwise spend ~40 % of its time on five million key
    checks. Same guarantees — a missing row fails the insert, a referenced row cannot be
    deleted — see programs/migrations/0003_ledger_set_based_triggers.py."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        db_constraint=False,  # checked per statement by triggers (migration 0003)
        related_name="ledger_entries",
        db_index=False,  # served by ledger_partner_kind_idx (partner first)
    )
    # The person credited (individual incentives, per-person caps); null = the company.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.PROTECT,
        db_constraint=False,  # checked per statement by triggers (migration 0003)
        null=True,
        blank=True,
        related_name="ledger_entries",
        # Every index costs on the set-based accrual path (1M rows); per-person reads also
        # filter by partner (a user belongs to one), so ledger_partner_kind_idx serves them.
        db_index=False,
    )
    # Identifiers, not words: byte order ("C") makes the unique key's and the partner index's
    # comparisons plain memcmp (a million-entry accrual compares them ~20 million times).
    kind = models.CharField(_("kind"), max_length=24, choices=EntryKind.choices, db_collation="C")
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    unit = models.CharField(_("unit"), max_length=8, help_text=_('"points" or a currency code.'))
    state = models.CharField(_("state"), max_length=10, choices=EntryState.choices, default=EntryState.ACCRUED)
    state_changed_at = models.DateTimeField(_("state changed"), null=True, blank=True)
    rule = models.ForeignKey(
        EarningRule,
        verbose_name=_("rule"),
        on_delete=models.PROTECT,
        db_constraint=False,  # checked per statement by triggers (migration 0003)
        null=True,
        blank=True,
        related_name="entries",
        db_index=False,  # caps read "partner, kind, occurred_at" + rule filter: ledger_partner_kind_idx
    )
    source_type = models.CharField(_("source"), max_length=32, choices=SourceType.choices, db_collation="C")
    source_id = models.CharField(_("source id"), max_length=64, db_collation="C")
    occurred_at = models.DateTimeField(_("occurred"))
    # Points only: when the unspent rest of this credit expires (oldest first).
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    reverses = models.ForeignKey(
        "self",
        verbose_name=_("reverses"),
        on_delete=models.PROTECT,
        db_constraint=False,  # checked per statement by triggers (migration 0003)
        null=True,
        blank=True,
        related_name="reversals",
        db_index=False,  # partial index ledger_reverses_idx below (few rows are reversals)
    )
    reason = models.TextField(_("reason"), blank=True)
    # How a rule computed the amount, for the "rule behind each entry" display. The two facts
    # that differ per entry are columns (a set-based accrual copies them; building a JSON
    # document per row cost ~20 % of a million-entry accrual); the rule's terms, the same for a
    # whole accrual, are in `calculation`: {"rate": "12.5", "per_thousand": true, "capped": false}.
    base_value = models.DecimalField(
        _("base value"),
        max_digits=20,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("The value in the base currency the points were computed on (per 1,000 rules)."),
    )
    multiplier = models.DecimalField(_("tier multiplier"), max_digits=6, decimal_places=2, null=True, blank=True)
    calculation = models.JSONField(_("calculation"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        db_constraint=False,  # checked per statement by triggers (migration 0003)
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            # One event credits once per rule and kind, whatever the retries, crashes or
            # concurrent workers. Rule is part of the key with NULLS NOT DISTINCT, so entries
            # without a rule (adjustments, redemptions, expiry) are unique per source too.
            models.UniqueConstraint(
                fields=["source_type", "source_id", "kind", "rule"],
                nulls_distinct=False,
                name="ledger_one_credit_per_event_rule",
            ),
            models.CheckConstraint(name="ledger_kind_valid", condition=Q(kind__in=EntryKind.values)),
            models.CheckConstraint(name="ledger_state_valid", condition=Q(state__in=EntryState.values)),
            models.CheckConstraint(name="ledger_source_type_valid", condition=Q(source_type__in=SourceType.values)),
            # Zero only for a clawback that found no points left to take: the entry records
            # its shortfall and is the key that stops it being attempted again.
            models.CheckConstraint(
                name="ledger_amount_nonzero",
                condition=~Q(amount=0)
                | (Q(source_type__in=[s.value for s in CLAWBACK_SOURCES]) & Q(calculation__has_key="shortfall")),
            ),
            models.CheckConstraint(
                name="ledger_points_unit",
                condition=(Q(kind=EntryKind.POINTS) & Q(unit=POINTS)) | (~Q(kind=EntryKind.POINTS) & ~Q(unit=POINTS)),
            ),
            models.CheckConstraint(
                name="ledger_expiry_points_only",
                condition=Q(expires_at__isnull=True) | Q(kind=EntryKind.POINTS),
            ),
            models.CheckConstraint(
                name="ledger_adjustment_has_reason",
                condition=~Q(source_type__in=["adjustment", "reversal"]) | ~Q(reason=""),
            ),
        ]
        indexes = [
            # Partner history and balance sums: "WHERE partner_id = … AND kind = … ORDER BY occurred_at DESC".
            models.Index(fields=["partner", "kind", "-occurred_at"], name="ledger_partner_kind_idx"),
            # FIFO lots: "which entries reverse this one".
            models.Index(fields=["reverses"], name="ledger_reverses_idx", condition=Q(reverses__isnull=False)),
            # No index on expires_at: the daily expiry and warning passes read the ledger once
            # (a second per few million rows), while every accrued entry would pay for one
            # (~20 % of a million-entry accrual, bench). Per partner, ledger_partner_kind_idx.
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.unit} ({self.source_type} {self.source_id})"

    @property
    def is_credit(self) -> bool:
        return self.amount > 0


class PointsBalance(models.Model):
    """A partner's points balance: the sum of its points entries, kept by a statement-level
    AFTER INSERT trigger on the ledger (same transaction as the insert, so it cannot drift and
    works for single and set-based inserts alike). The CHECK makes an overdraw impossible at
    the database level; redemptions lock this row first."""

    partner = models.OneToOneField(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="points_balance",
    )
    balance = models.DecimalField(_("balance"), max_digits=16, decimal_places=2, default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("points balance")
        verbose_name_plural = _("points balances")
        constraints = [
            models.CheckConstraint(
                name="points_balance_nonneg",
                condition=Q(balance__gte=0),
                violation_error_message=_("A points balance cannot go negative."),
            ),
        ]

    def __str__(self):
        return f"{self.partner_id}: {self.balance}"
