"""Deal registration: end customers, the product catalogue, registrations, conflicts,
protection extensions, direct accounts and the holiday calendar for review SLAs.

Every write goes through `deals.services`; every read that a partner can reach goes through
`deals.selectors`. The rules that must hold whatever code path writes are constraints here.
"""

import uuid
from typing import NamedTuple

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deals.normalize import normalize_tax_id, registrable_domain
from prm.models import Currency, TimeStampedModel

# --- catalogue ----------------------------------------------------------------------------


class CustomerAsEntered(NamedTuple):
    name: str
    website: str
    domain: str
    tax_id: str
    country: str
    city: str


class ProductLine(TimeStampedModel):
    name = models.CharField(_("name"), max_length=120, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("product line")
        verbose_name_plural = _("product lines")

    def __str__(self):
        return self.name


class Product(TimeStampedModel):
    line = models.ForeignKey(
        ProductLine, verbose_name=_("product line"), on_delete=models.PROTECT, related_name="products"
    )
    name = models.CharField(_("name"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=60, unique=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["line__name", "name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [
            # Form choices: active products of a line, by name.
            models.Index(fields=["line", "is_active", "name"], name="product_line_active_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"


# --- end customers ------------------------------------------------------------------------


class EndCustomer(TimeStampedModel):
    """A company a partner sells to. Shared by every registration naming the same company.

    `normalized_name`, `domain` and `tax_id` are the identity keys computed by
    `deals.normalize.customer_keys`; only services set them.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=300)
    normalized_name = models.CharField(_("normalised name"), max_length=300, editable=False)
    website = models.CharField(_("website"), max_length=300, blank=True)
    domain = models.CharField(_("registrable domain"), max_length=253, blank=True, editable=False)
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True, help_text=_("Digits only."))
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166 two-letter code"))
    city = models.CharField(_("city"), max_length=120, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("end customer")
        verbose_name_plural = _("end customers")
        constraints = [
            models.CheckConstraint(name="endcustomer_tax_id_digits", condition=Q(tax_id__regex=r"^[0-9]*$")),
            models.CheckConstraint(
                name="endcustomer_has_a_key", condition=~Q(normalized_name="", domain="", tax_id="")
            ),
            # One record per company: by tax id when known, else by domain, else by name+country.
            # These also make concurrent get-or-create safe (the loser re-reads).
            models.UniqueConstraint(fields=["tax_id"], condition=~Q(tax_id=""), name="endcustomer_tax_id_unique"),
            models.UniqueConstraint(
                fields=["domain"], condition=Q(tax_id="") & ~Q(domain=""), name="endcustomer_domain_unique_no_tax"
            ),
            models.UniqueConstraint(
                fields=["normalized_name", "country"],
                condition=Q(tax_id="", domain=""),
                name="endcustomer_name_unique_no_keys",
            ),
        ]
        indexes = [
            # Conflict detection / pre-check: "normalized_name % :name" (pg_trgm similarity).
            GinIndex(fields=["normalized_name"], opclasses=["gin_trgm_ops"], name="endcustomer_name_trgm"),
            # Conflict detection / pre-check: "domain = :domain" (tax id has its unique index).
            models.Index(fields=["domain"], condition=~Q(domain=""), name="endcustomer_domain_idx"),
        ]

    def __str__(self):
        return self.name


class DirectAccount(TimeStampedModel):
    """A customer the vendor serves itself: partner registrations for it are flagged."""

    name = models.CharField(_("name"), max_length=300)
    normalized_name = models.CharField(_("normalised name"), max_length=300, editable=False)
    website = models.CharField(_("website"), max_length=300, blank=True)
    domain = models.CharField(_("registrable domain"), max_length=253, blank=True, editable=False)
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True, help_text=_("Digits only."))
    country = models.CharField(_("country"), max_length=2, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="direct_accounts",
    )
    notes = models.TextField(_("notes"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("direct account")
        verbose_name_plural = _("direct accounts")
        constraints = [
            models.CheckConstraint(name="directaccount_tax_id_digits", condition=Q(tax_id__regex=r"^[0-9]*$")),
        ]
        indexes = [
            # Submission flags: "normalized_name % :name" among active accounts.
            GinIndex(fields=["normalized_name"], opclasses=["gin_trgm_ops"], name="directaccount_name_trgm"),
            # Submission flags: "tax_id = :tax_id" / "domain = :domain".
            models.Index(fields=["tax_id"], condition=~Q(tax_id=""), name="directaccount_tax_id_idx"),
            models.Index(fields=["domain"], condition=~Q(domain=""), name="directaccount_domain_idx"),
        ]

    def __str__(self):
        return self.name


# --- registrations ------------------------------------------------------------------------


class DealStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    RETURNED = "returned", _("Returned for more information")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    EXPIRED = "expired", _("Expired")


# Registrations that hold (or claim) a customer: what conflicts are detected against. An
# approved one counts only while `protected_until` is in the future.
ACTIVE_STATUSES = (DealStatus.SUBMITTED, DealStatus.APPROVED)
# Nothing follows these.
FINAL_STATUSES = (DealStatus.REJECTED, DealStatus.WON, DealStatus.LOST, DealStatus.EXPIRED)


class DealStage(models.TextChoices):
    """The partner-visible sales stages; each has a default win probability (STAGE_PROBABILITY)."""

    QUALIFICATION = "qualification", _("Qualification")
    DISCOVERY = "discovery", _("Discovery")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")
    COMMIT = "commit", _("Commit")


STAGE_PROBABILITY = {
    DealStage.QUALIFICATION: 10,
    DealStage.DISCOVERY: 25,
    DealStage.PROPOSAL: 50,
    DealStage.NEGOTIATION: 75,
    DealStage.COMMIT: 90,
}


class DealFlag(models.TextChoices):
    """Staff-only warnings raised at submission."""

    DIRECT_ACCOUNT = "direct_account", _("Customer is a direct account")
    SELF_DEALING = "self_dealing", _("Partner registered its own company")
    OWN_DUPLICATE = "own_duplicate", _("Partner already has an active registration for this customer")


class DealReferenceCounter(models.Model):
    """The last reference number issued in a year; bumped by an atomic upsert (see services)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reference counter")
        verbose_name_plural = _("reference counters")

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class DealRegistration(TimeStampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="deal_registrations"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        on_delete=models.PROTECT,
        related_name="deal_registrations",
    )
    end_customer = models.ForeignKey(
        EndCustomer, verbose_name=_("end customer"), on_delete=models.PROTECT, related_name="registrations"
    )
    # The customer as this partner typed it. The EndCustomer record is shared by every
    # registration of the same company, so partners are shown this instead: another partner's
    # spelling, website or city must never reach them.
    customer_entered = models.JSONField(_("customer as entered"), default=dict, blank=True)
    title = models.CharField(_("opportunity"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    products = models.ManyToManyField(
        Product, verbose_name=_("products"), through="DealProduct", related_name="registrations", blank=True
    )
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    expected_close_date = models.DateField(_("expected close date"))
    stage = models.CharField(_("stage"), max_length=16, choices=DealStage.choices, default=DealStage.QUALIFICATION)
    probability = models.PositiveSmallIntegerField(_("probability %"), default=10)

    status = models.CharField(_("status"), max_length=16, choices=DealStatus.choices, default=DealStatus.DRAFT)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    # First submission: decides priority between competing registrations (server time).
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    # Latest submission (after a return): the review SLA runs from here.
    last_submitted_at = models.DateTimeField(_("last submitted"), null=True, blank=True)
    submission_count = models.PositiveSmallIntegerField(_("submissions"), default=0)
    review_due_at = models.DateTimeField(_("review due"), null=True, blank=True)
    review_reminder_at = models.DateTimeField(_("review reminder due"), null=True, blank=True)
    review_reminded_at = models.DateTimeField(_("review reminder sent"), null=True, blank=True)
    review_escalated_at = models.DateTimeField(_("review escalated"), null=True, blank=True)

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decided_deal_registrations",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    # Shown to the partner: why it was rejected or returned, or the approval note.
    decision_reason = models.TextField(_("decision reason"), blank=True)

    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    # Snapshot of the tier's protection at approval; 0 = no protection.
    protection_days = models.PositiveSmallIntegerField(_("protection (days)"), null=True, blank=True)
    protected_until = models.DateTimeField(_("protected until"), null=True, blank=True)
    # Smallest "N days before" protection reminder sent for the current protected_until (14, 3).
    protection_reminder_level = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    expired_at = models.DateTimeField(_("expired"), null=True, blank=True)

    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    final_amount = models.DecimalField(_("final amount"), max_digits=16, decimal_places=2, null=True, blank=True)
    lost_reason = models.TextField(_("reason lost"), blank=True)

    # Staff-only: direct account / self-dealing / own duplicate, with the evidence.
    flags = ArrayField(
        models.CharField(max_length=32, choices=DealFlag.choices), verbose_name=_("flags"), default=list, blank=True
    )
    flag_evidence = models.JSONField(_("flag evidence"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deal registration")
        verbose_name_plural = _("deal registrations")
        constraints = [
            models.CheckConstraint(name="deal_status_valid", condition=Q(status__in=DealStatus.values)),
            models.CheckConstraint(name="deal_stage_valid", condition=Q(stage__in=DealStage.values)),
            models.CheckConstraint(
                name="deal_reference_format", condition=Q(reference__regex=r"^DR-[0-9]{4}-[0-9]{6,}$")
            ),
            models.CheckConstraint(name="deal_value_nonneg", condition=Q(value__gte=0)),
            models.CheckConstraint(
                name="deal_probability_range", condition=Q(probability__gte=0, probability__lte=100)
            ),
            models.CheckConstraint(
                name="deal_final_amount_nonneg", condition=Q(final_amount__isnull=True) | Q(final_amount__gte=0)
            ),
            # Everything past draft has been submitted at a server time.
            models.CheckConstraint(
                name="deal_submitted_has_time",
                condition=Q(status=DealStatus.DRAFT) | Q(submitted_at__isnull=False, last_submitted_at__isnull=False),
            ),
            models.CheckConstraint(
                name="deal_submitted_has_review_due",
                condition=~Q(status=DealStatus.SUBMITTED) | Q(review_due_at__isnull=False),
            ),
            models.CheckConstraint(
                name="deal_decision_needs_reason",
                condition=~Q(status__in=[DealStatus.REJECTED, DealStatus.RETURNED]) | ~Q(decision_reason=""),
            ),
            # Approved, won, lost and expired registrations went through approval.
            models.CheckConstraint(
                name="deal_approved_has_time",
                condition=~Q(status__in=[DealStatus.APPROVED, DealStatus.WON, DealStatus.LOST, DealStatus.EXPIRED])
                | Q(approved_at__isnull=False, protection_days__isnull=False),
            ),
            # The tier gave protection ⇒ there is an end date, after approval.
            models.CheckConstraint(
                name="deal_protection_has_end",
                condition=Q(approved_at__isnull=True)
                | Q(protection_days=0, protected_until__isnull=True)
                | Q(protection_days__gt=0, protected_until__gt=F("approved_at")),
            ),
            models.CheckConstraint(
                name="deal_expired_has_time", condition=~Q(status=DealStatus.EXPIRED) | Q(expired_at__isnull=False)
            ),
            models.CheckConstraint(
                name="deal_won_has_amount",
                condition=~Q(status=DealStatus.WON) | Q(final_amount__isnull=False, closed_at__isnull=False),
            ),
            models.CheckConstraint(
                name="deal_lost_needs_reason",
                condition=~Q(status=DealStatus.LOST) | (~Q(lost_reason="") & Q(closed_at__isnull=False)),
            ),
        ]
        indexes = [
            # Conflict detection / pre-check: active registrations of the matched customers
            # ("end_customer_id IN (…) AND status IN ('submitted','approved')").
            models.Index(
                fields=["end_customer", "status"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="deal_active_customer_idx",
            ),
            # Cabinet list of a partner ("partner_id = :p ORDER BY created_at DESC"), and a rep's own.
            models.Index(fields=["partner", "-created_at"], name="deal_partner_created_idx"),
            models.Index(fields=["submitted_by", "-created_at"], name="deal_submitter_created_idx"),
            # Review queue and SLA beat task: submitted ones by due time.
            models.Index(
                fields=["review_due_at"], condition=Q(status=DealStatus.SUBMITTED), name="deal_review_queue_idx"
            ),
            # SLA reminder beat task: submitted ones whose 75 % mark passed, not yet reminded.
            models.Index(
                fields=["review_reminder_at"],
                condition=Q(status=DealStatus.SUBMITTED, review_reminded_at__isnull=True),
                name="deal_review_reminder_idx",
            ),
            # Protection reminders, expiry task and "expiring soon" list: approved by end date.
            models.Index(
                fields=["protected_until"], condition=Q(status=DealStatus.APPROVED), name="deal_protection_idx"
            ),
            # Staff list "flagged only".
            models.Index(fields=["-created_at"], condition=~Q(flags=[]), name="deal_flagged_idx"),
            # Revenue (dashboards, KPIs, forecasts, health): won deals by close date, read
            # index-only ("status = 'won' AND closed_at >= … GROUP BY partner, month, currency").
            models.Index(
                fields=["closed_at"],
                condition=Q(status=DealStatus.WON),
                include=["partner", "final_amount", "currency"],
                name="deal_won_closed_idx",
            ),
            # Open pipeline per partner (dashboards, forecasts, health), read index-only.
            models.Index(
                fields=["partner"],
                condition=Q(status__in=ACTIVE_STATUSES),
                include=["stage", "value", "probability", "currency", "expected_close_date"],
                name="deal_open_pipeline_idx",
            ),
        ]

    def __str__(self):
        return self.reference

    @property
    def is_editable(self) -> bool:
        return self.status in (DealStatus.DRAFT, DealStatus.RETURNED)

    @property
    def customer_as_entered(self) -> "CustomerAsEntered":
        """Partner-facing customer details: what this registration's partner entered, with the
        normalised domain and tax id derived from it (falls back to the shared record for rows
        created before the entry was kept)."""
        data = self.customer_entered or {}
        if not data:
            c = self.end_customer
            return CustomerAsEntered(c.name, c.website, c.domain, c.tax_id, c.country, c.city)
        website = data.get("website", "")
        return CustomerAsEntered(
            data.get("name", ""),
            website,
            registrable_domain(website) if website else "",
            normalize_tax_id(data.get("tax_id", "")),
            data.get("country", ""),
            data.get("city", ""),
        )


class DealProduct(models.Model):
    registration = models.ForeignKey(DealRegistration, on_delete=models.CASCADE, related_name="product_links")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="registration_links")

    class Meta:
        verbose_name = _("registered product")
        verbose_name_plural = _("registered products")
        constraints = [
            models.UniqueConstraint(fields=["registration", "product"], name="dealproduct_unique"),
        ]
        indexes = [
            # Product-overlap test: "EXISTS (… WHERE registration_id = r.id AND product_id IN (…))"
            # is served by the unique index; this one serves "registrations of product X".
            models.Index(fields=["product", "registration"], name="dealproduct_product_idx"),
        ]

    def __str__(self):
        return f"{self.registration_id}: {self.product_id}"


# --- conflicts ----------------------------------------------------------------------------


class ConflictStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class ConflictOutcome(models.TextChoices):
    AWARD = "award", _("Awarded to one registration")
    CO_SELL = "co_sell", _("Co-sell")
    REJECT_BOTH = "reject_both", _("Both rejected")
    # Closed without a decision: one side left the active set (rejected, lost, expired).
    LAPSED = "lapsed", _("Lapsed")


class Conflict(TimeStampedModel):
    """Two active registrations of different partners for the same end customer.

    The pair is stored ordered (`registration_low_id < registration_high_id`) under a unique
    constraint, so a pair can be recorded once only, whatever the race.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    registration_low = models.ForeignKey(DealRegistration, on_delete=models.PROTECT, related_name="conflicts_as_low")
    registration_high = models.ForeignKey(DealRegistration, on_delete=models.PROTECT, related_name="conflicts_as_high")
    # Evidence: which keys matched ("tax_id", "domain", "name"), the name similarity, and the
    # products in common (empty with "no_products": true when either side has none).
    matched_fields = ArrayField(models.CharField(max_length=16), verbose_name=_("matched on"), default=list)
    similarity = models.DecimalField(_("name similarity"), max_digits=4, decimal_places=3)
    evidence = models.JSONField(_("evidence"), default=dict)
    detected_at = models.DateTimeField(_("detected"))

    status = models.CharField(_("status"), max_length=16, choices=ConflictStatus.choices, default=ConflictStatus.OPEN)
    outcome = models.CharField(_("outcome"), max_length=16, choices=ConflictOutcome.choices, blank=True)
    winner = models.ForeignKey(
        DealRegistration, on_delete=models.PROTECT, null=True, blank=True, related_name="conflicts_won"
    )
    reason = models.TextField(_("reason"), blank=True, help_text=_("Staff only."))
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="resolved_conflicts"
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("conflict")
        verbose_name_plural = _("conflicts")
        constraints = [
            models.UniqueConstraint(fields=["registration_low", "registration_high"], name="conflict_pair_unique"),
            models.CheckConstraint(
                name="conflict_pair_ordered", condition=Q(registration_low__lt=F("registration_high"))
            ),
            models.CheckConstraint(name="conflict_status_valid", condition=Q(status__in=ConflictStatus.values)),
            models.CheckConstraint(name="conflict_similarity_range", condition=Q(similarity__gte=0, similarity__lte=1)),
            models.CheckConstraint(
                name="conflict_open_undecided",
                condition=~Q(status=ConflictStatus.OPEN) | Q(outcome="", winner__isnull=True, resolved_at__isnull=True),
            ),
            models.CheckConstraint(
                name="conflict_resolved_complete",
                condition=~Q(status=ConflictStatus.RESOLVED)
                | (Q(outcome__in=ConflictOutcome.values, resolved_at__isnull=False) & ~Q(reason="")),
            ),
            # "Award" names one of the two; the other outcomes name none.
            models.CheckConstraint(
                name="conflict_award_has_winner",
                condition=(
                    Q(outcome=ConflictOutcome.AWARD)
                    & (Q(winner=F("registration_low")) | Q(winner=F("registration_high")))
                )
                | (~Q(outcome=ConflictOutcome.AWARD) & Q(winner__isnull=True)),
            ),
        ]
        indexes = [
            # "Conflicts of registration X" (both columns; the unique index covers low).
            models.Index(fields=["registration_high"], name="conflict_high_idx"),
            # Conflict queue and escalation beat task: open ones, oldest first.
            models.Index(fields=["detected_at"], condition=Q(status=ConflictStatus.OPEN), name="conflict_open_idx"),
        ]

    def __str__(self):
        return f"{self.registration_low_id} ⇄ {self.registration_high_id}"

    def other(self, registration_id: int) -> int:
        return self.registration_high_id if registration_id == self.registration_low_id else self.registration_low_id


# --- protection extensions ----------------------------------------------------------------


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    # Protection ended before anyone decided.
    LAPSED = "lapsed", _("Lapsed")


class ProtectionExtension(TimeStampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    registration = models.ForeignKey(DealRegistration, on_delete=models.PROTECT, related_name="extensions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_protection_extensions"
    )
    reason = models.TextField(_("reason"))
    days = models.PositiveSmallIntegerField(_("days"))
    status = models.CharField(
        _("status"), max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decided_protection_extensions",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    previous_protected_until = models.DateTimeField(null=True, blank=True)
    new_protected_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("protection extension")
        verbose_name_plural = _("protection extensions")
        constraints = [
            models.CheckConstraint(name="extension_reason_required", condition=~Q(reason="")),
            models.CheckConstraint(name="extension_days_positive", condition=Q(days__gt=0)),
            models.CheckConstraint(name="extension_status_valid", condition=Q(status__in=ExtensionStatus.values)),
            models.CheckConstraint(
                name="extension_approved_has_dates",
                condition=~Q(status=ExtensionStatus.APPROVED)
                | Q(new_protected_until__gt=F("previous_protected_until"), decided_at__isnull=False),
            ),
            models.CheckConstraint(
                name="extension_rejected_has_note",
                condition=~Q(status=ExtensionStatus.REJECTED) | ~Q(decision_note=""),
            ),
            # One request at a time per registration.
            models.UniqueConstraint(
                fields=["registration"], condition=Q(status=ExtensionStatus.PENDING), name="extension_one_pending"
            ),
        ]
        indexes = [
            # Staff queue: pending requests, oldest first.
            models.Index(
                fields=["created_at"], condition=Q(status=ExtensionStatus.PENDING), name="extension_pending_idx"
            ),
        ]

    def __str__(self):
        return f"+{self.days}d {self.registration_id}"


# --- calendar -----------------------------------------------------------------------------


class Holiday(TimeStampedModel):
    """A non-working day: the review SLA clock does not run on it."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.name}"


# --- sales records ------------------------------------------------------------------------


class SalesKind(models.TextChoices):
    SELL_IN = "sell_in", _("Sell-in (vendor to partner)")
    SELL_OUT = "sell_out", _("Sell-out (partner to customer)")


class SalesSource(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    CSV = "csv", _("CSV import")
    API = "api", _("API")


class SalesRecord(TimeStampedModel):
    """One line of revenue: sell-in invoiced by the vendor or sell-out reported by the partner.
    Tiers, rebates, forecasts and reorder reminders are computed from these. A return is a
    record with a negative amount (never an edit of the original)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="sales_records"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SalesKind.choices)
    occurred_on = models.DateField(_("date"))
    # The invoice or report line this came from; makes re-imports idempotent.
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sales_records",
    )
    quantity = models.IntegerField(_("quantity"), null=True, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    end_customer = models.ForeignKey(
        EndCustomer,
        verbose_name=_("end customer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sales_records",
    )
    registration = models.ForeignKey(
        DealRegistration,
        verbose_name=_("deal registration"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sales_records",
    )
    source = models.CharField(_("source"), max_length=16, choices=SalesSource.choices, default=SalesSource.MANUAL)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["-occurred_on", "-id"]
        verbose_name = _("sales record")
        verbose_name_plural = _("sales records")
        constraints = [
            models.CheckConstraint(name="sales_kind_valid", condition=Q(kind__in=SalesKind.values)),
            models.CheckConstraint(
                name="sales_amount_nonzero",
                condition=~Q(amount=0),
                violation_error_message=_("An amount of zero records nothing; a return is a negative amount."),
            ),
            models.CheckConstraint(
                name="sales_quantity_sign_matches_amount",
                condition=Q(quantity__isnull=True)
                | Q(quantity=0)
                | Q(quantity__gt=0, amount__gt=0)
                | Q(quantity__lt=0, amount__lt=0),
                violation_error_message=_("A return has a negative quantity and a negative amount."),
            ),
            models.UniqueConstraint(
                fields=["partner", "kind", "reference"],
                condition=~Q(reference=""),
                name="sales_reference_unique",
                violation_error_message=_("A record with this reference already exists for this partner."),
            ),
        ]
        indexes = [
            # Trailing-window revenue per partner (tiers, rebates) and monthly history (forecasts).
            models.Index(fields=["partner", "kind", "occurred_on"], name="sales_partner_kind_date_idx"),
            # Period totals across all partners (dashboards, bulk tier evaluation).
            models.Index(fields=["occurred_on"], name="sales_date_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.currency} {self.occurred_on}"


# --- forecasts and health -----------------------------------------------------------------
# Read by `deals.dashboard`; written only by `deals.services.forecasts` / `deals.services.health`.


QUARTER_CHECK = Q(quarter__gte=1, quarter__lte=4)


class Target(TimeStampedModel):
    """A channel manager's sales plan for one quarter, in the base currency (KPI fulfilment)."""

    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("channel manager"),
        on_delete=models.PROTECT,
        related_name="sales_targets",
        limit_choices_to={"role__in": ["channel_manager", "channel_lead", "administrator"]},
    )
    year = models.PositiveSmallIntegerField(_("year"))
    quarter = models.PositiveSmallIntegerField(_("quarter"))
    amount = models.DecimalField(_("amount (base currency)"), max_digits=16, decimal_places=2)

    class Meta:
        ordering = ["-year", "-quarter", "manager_id"]
        verbose_name = _("sales target")
        verbose_name_plural = _("sales targets")
        constraints = [
            models.UniqueConstraint(fields=["manager", "year", "quarter"], name="target_manager_quarter_unique"),
            models.CheckConstraint(name="target_quarter_range", condition=QUARTER_CHECK),
            models.CheckConstraint(name="target_amount_nonneg", condition=Q(amount__gte=0)),
        ]
        indexes = [
            # Dashboard / KPI: targets of the managers in scope for a few quarters.
            models.Index(fields=["year", "quarter"], name="target_period_idx"),
        ]

    def __str__(self):
        return f"{self.manager} {self.year} Q{self.quarter}: {self.amount}"


class PartnerCommit(TimeStampedModel):
    """What a partner says it will sell in a quarter (entered in the cabinet), beside the forecast."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="commits"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    quarter = models.PositiveSmallIntegerField(_("quarter"))
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["year", "quarter"]
        verbose_name = _("partner commit")
        verbose_name_plural = _("partner commits")
        constraints = [
            models.UniqueConstraint(fields=["partner", "year", "quarter"], name="commit_partner_quarter_unique"),
            models.CheckConstraint(name="commit_quarter_range", condition=QUARTER_CHECK),
            models.CheckConstraint(name="commit_amount_nonneg", condition=Q(amount__gte=0)),
        ]
        indexes = [
            # Dashboard: commits of the partners in scope for the coming quarters.
            models.Index(fields=["year", "quarter"], name="commit_period_idx"),
        ]

    def __str__(self):
        return f"{self.partner} {self.year} Q{self.quarter}: {self.amount} {self.currency}"


class ForecastRunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ForecastRun(TimeStampedModel):
    """One nightly snapshot computation for an `as_of` date. Partners are processed in chunks in
    id order; `cursor` is the last partner id done, so an interrupted run resumes where it stopped
    (one run per as_of date: a second start the same day continues or no-ops)."""

    as_of = models.DateField(_("as of"), unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ForecastRunStatus.choices, default=ForecastRunStatus.RUNNING
    )
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    cursor = models.BigIntegerField(_("last partner id done"), default=0)
    partners_done = models.PositiveIntegerField(_("partners done"), default=0)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-as_of"]
        verbose_name = _("forecast run")
        verbose_name_plural = _("forecast runs")
        constraints = [
            models.CheckConstraint(name="forecastrun_status_valid", condition=Q(status__in=ForecastRunStatus.values)),
            models.CheckConstraint(
                name="forecastrun_done_has_time",
                condition=~Q(status=ForecastRunStatus.DONE) | Q(finished_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.as_of} ({self.status})"


class ForecastMethod(models.TextChoices):
    SEASONAL_NAIVE = "seasonal_naive", _("Seasonal naive")
    HOLT_WINTERS = "holt_winters", _("Holt-Winters (seasonal exponential smoothing)")


class ErrorMetric(models.TextChoices):
    MAPE = "mape", _("MAPE")
    WAPE = "wape", _("WAPE")


class ForecastSnapshot(TimeStampedModel):
    """The forecast of one partner (or the total when `partner` is empty) for one coming quarter,
    as computed on `as_of`. Money in the base currency. Errors are the back-test errors (a
    fraction: 0.12 = 12 %) of each method over the last periods; `method` is the one chosen."""

    run = models.ForeignKey(ForecastRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="snapshots")
    as_of = models.DateField(_("as of"))
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="forecast_snapshots",
    )
    year = models.PositiveSmallIntegerField(_("year"))
    quarter = models.PositiveSmallIntegerField(_("quarter"))
    weighted_pipeline = models.DecimalField(_("weighted pipeline"), max_digits=18, decimal_places=2, default=0)
    forecast = models.DecimalField(_("forecast"), max_digits=18, decimal_places=2, default=0)
    naive_forecast = models.DecimalField(_("seasonal naive forecast"), max_digits=18, decimal_places=2, default=0)
    model_forecast = models.DecimalField(_("model forecast"), max_digits=18, decimal_places=2, null=True, blank=True)
    method = models.CharField(_("method"), max_length=20, choices=ForecastMethod.choices)
    error_metric = models.CharField(_("error metric"), max_length=8, choices=ErrorMetric.choices)
    naive_error = models.DecimalField(_("naive back-test error"), max_digits=9, decimal_places=4, null=True, blank=True)
    model_error = models.DecimalField(_("model back-test error"), max_digits=9, decimal_places=4, null=True, blank=True)
    commit = models.DecimalField(_("commit"), max_digits=18, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["as_of", "year", "quarter"]
        verbose_name = _("forecast snapshot")
        verbose_name_plural = _("forecast snapshots")
        constraints = [
            # A rerun the same day replaces rows instead of adding them (total: partner IS NULL).
            models.UniqueConstraint(
                fields=["as_of", "partner", "year", "quarter"],
                name="snapshot_partner_quarter_unique",
                nulls_distinct=False,
            ),
            models.CheckConstraint(name="snapshot_quarter_range", condition=QUARTER_CHECK),
            models.CheckConstraint(name="snapshot_method_valid", condition=Q(method__in=ForecastMethod.values)),
            models.CheckConstraint(name="snapshot_metric_valid", condition=Q(error_metric__in=ErrorMetric.values)),
        ]
        indexes = [
            # Dashboard / cabinet: the latest snapshot of the partners in scope ("partner_id = … ORDER BY as_of DESC").
            models.Index(fields=["partner", "-as_of"], name="snapshot_partner_asof_idx"),
        ]

    @property
    def error(self):
        """The back-test error of the chosen method."""
        return self.model_error if self.method == ForecastMethod.HOLT_WINTERS else self.naive_error

    def __str__(self):
        return f"{self.as_of} {self.partner or 'total'} {self.year} Q{self.quarter}: {self.forecast}"


class HealthBand(models.TextChoices):
    GREEN = "green", _("Healthy")
    YELLOW = "yellow", _("Needs attention")
    RED = "red", _("At risk")


class PartnerHealth(TimeStampedModel):
    """The latest health score of a partner (0–100) and how it was made up: `breakdown` is
    {component: {"value": raw figure, "score": 0–100, "weight": share of the total}}."""

    partner = models.OneToOneField(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.CASCADE, related_name="health"
    )
    score = models.PositiveSmallIntegerField(_("score"))
    band = models.CharField(_("band"), max_length=8, choices=HealthBand.choices)
    breakdown = models.JSONField(_("breakdown"), default=dict)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("partner health")
        verbose_name_plural = _("partner health")
        constraints = [
            models.CheckConstraint(name="health_score_range", condition=Q(score__gte=0, score__lte=100)),
            models.CheckConstraint(
                name="health_band_matches_score",
                condition=Q(band="green", score__gte=80)
                | Q(band="yellow", score__gte=50, score__lt=80)
                | Q(band="red", score__lt=50),
            ),
        ]
        indexes = [
            # Dashboard: partners in scope by band.
            models.Index(fields=["band"], name="health_band_idx"),
        ]

    def __str__(self):
        return f"{self.partner}: {self.score} ({self.band})"


class ReorderExpectation(TimeStampedModel):
    """When a partner is expected to buy again, from its sell-in history (median gap between
    order days). `reminded_for` is the predicted date already reminded about: once per order."""

    partner = models.OneToOneField(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.CASCADE, related_name="reorder_expectation"
    )
    orders_counted = models.PositiveIntegerField(_("orders counted"))
    typical_interval_days = models.PositiveIntegerField(_("typical interval (days)"))
    last_order_on = models.DateField(_("last order"))
    predicted_next_on = models.DateField(_("predicted next order"))
    reminded_for = models.DateField(_("reminded for"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("reorder expectation")
        verbose_name_plural = _("reorder expectations")
        indexes = [
            # Reminder task: expectations past due and not yet reminded.
            models.Index(fields=["predicted_next_on"], name="reorder_predicted_idx"),
        ]

    def __str__(self):
        return f"{self.partner}: next ≈ {self.predicted_next_on}"


# --- leads --------------------------------------------------------------------------------
#
# Leads the vendor hands to partners (PRODUCT §2.3 "Leads from the vendor"). A lead is routed
# by the ordered RoutingRules (deals.routing is the engine, deals.services.leads the writes):
#
#   new ─route→ offered ─accept→ accepted (an approved DealRegistration of that partner)
#    │            ├─decline / timeout → (routed again at once) → offered (next partner) | unassigned
#    └─route→ unassigned ─route / reassign→ offered …                       closed (by staff)
#
# "declined" and "expired" are states of an *offer* (LeadOffer), not of the lead: a decline
# or timeout re-routes in the same transaction, so the lead is never left in between.


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    UNASSIGNED = "unassigned", _("No partner available")
    CLOSED = "closed", _("Closed")


# Leads a partner is still working on / that still wait for routing.
OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.OFFERED, LeadStatus.UNASSIGNED)


class LeadSource(models.TextChoices):
    WEB = "web", _("Web form")
    EVENT = "event", _("Event")
    CAMPAIGN = "campaign", _("Campaign")
    REFERRAL = "referral", _("Referral")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class LeadReferenceCounter(models.Model):
    """The last lead number issued in a year; bumped by an atomic upsert (see services.leads)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("lead reference counter")
        verbose_name_plural = _("lead reference counters")

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class PartnerSpecialisation(TimeStampedModel):
    """A product line a partner is specialised in. A partner with NO specialisation rows is a
    generalist: it matches every product line, also under rules that require specialisation.
    A partner with rows matches only those lines when the rule requires specialisation."""

    partner = models.ForeignKey(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.CASCADE, related_name="specialisations"
    )
    product_line = models.ForeignKey(
        ProductLine, verbose_name=_("product line"), on_delete=models.CASCADE, related_name="specialisations"
    )

    class Meta:
        ordering = ["partner", "product_line"]
        verbose_name = _("partner specialisation")
        verbose_name_plural = _("partner specialisations")
        constraints = [
            models.UniqueConstraint(fields=["partner", "product_line"], name="specialisation_unique"),
        ]
        indexes = [
            # Routing: "partners specialised in line X" (the unique index serves by partner).
            models.Index(fields=["product_line", "partner"], name="specialisation_line_idx"),
        ]

    def __str__(self):
        return f"{self.partner_id}: {self.product_line_id}"


class RoutingRule(TimeStampedModel):
    """One ordered routing rule: the first active rule whose conditions match a lead decides the
    pool of partners it is routed among. Empty condition lists mean "any"."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), unique=True, help_text=_("Lower runs first."))
    is_active = models.BooleanField(_("active"), default=True)
    # Conditions on the lead.
    countries = ArrayField(
        models.CharField(max_length=2),
        verbose_name=_("countries"),
        default=list,
        blank=True,
        help_text=_("Empty = any."),
    )
    regions = ArrayField(
        models.CharField(max_length=16),
        verbose_name=_("regions"),
        default=list,
        blank=True,
        help_text=_("Empty = any."),
    )
    product_lines = models.ManyToManyField(
        ProductLine, verbose_name=_("product lines"), blank=True, related_name="routing_rules"
    )
    min_value = models.DecimalField(
        _("minimum estimated value"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("maximum estimated value"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    # The pool.
    partner_types = ArrayField(
        models.CharField(max_length=32),
        verbose_name=_("partner types"),
        default=list,
        blank=True,
        help_text=_("Empty = any."),
    )
    tiers = models.ManyToManyField(
        "partners.Tier", verbose_name=_("tiers"), blank=True, related_name="routing_rules", help_text=_("Empty = any.")
    )
    require_specialisation = models.BooleanField(
        _("require specialisation"),
        default=False,
        help_text=_("Only partners specialised in the lead's product line (or with no specialisation at all)."),
    )
    allow_abroad = models.BooleanField(
        _("allow partners abroad"),
        default=True,
        help_text=_("When the lead's country has no eligible partner, offer it to the nearest one abroad."),
    )
    acceptance_hours = models.PositiveSmallIntegerField(
        _("hours to accept"), null=True, blank=True, help_text=_("Empty = the default (48 hours).")
    )
    use_acceptance_boost = models.BooleanField(_("boost by acceptance rate"), default=False)
    use_win_boost = models.BooleanField(_("boost by win rate"), default=False)

    class Meta:
        ordering = ["position"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        constraints = [
            models.CheckConstraint(
                name="routingrule_value_range",
                condition=Q(min_value__isnull=True) | Q(max_value__isnull=True) | Q(max_value__gte=F("min_value")),
                violation_error_message=_("The maximum value must not be below the minimum."),
            ),
            models.CheckConstraint(
                name="routingrule_acceptance_hours_positive",
                condition=Q(acceptance_hours__isnull=True) | Q(acceptance_hours__gt=0),
            ),
        ]

    def __str__(self):
        return self.name


# Text limits of a lead: the staff forms, the API serializers, the CSV import and the services
# all use these, and the database holds the description and the reasons to them (CHECKs).
LEAD_DESCRIPTION_MAX_LENGTH = 4000
LEAD_PHONE_MAX_LENGTH = 40
LEAD_REASON_MAX_LENGTH = 2000  # decline, re-assignment and closure reasons
# Every text a lead is created from (lead_create, the import) → its most characters.
LEAD_INPUT_MAX_LENGTHS = {
    "customer_name": 300,
    "customer_website": 300,
    "customer_tax_id": 32,
    "city": 120,
    "contact_name": 200,
    "contact_email": 254,
    "contact_phone": LEAD_PHONE_MAX_LENGTH,
    "description": LEAD_DESCRIPTION_MAX_LENGTH,
}


def _text_at_most(prefix: str, field: str, limit: int) -> models.CheckConstraint:
    return models.CheckConstraint(name=f"{prefix}_{field}_max_length", condition=LessThanOrEqual(Length(field), limit))


class Lead(TimeStampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    end_customer = models.ForeignKey(
        EndCustomer, verbose_name=_("end customer"), on_delete=models.PROTECT, related_name="leads"
    )
    # The customer and contact as the vendor received them.
    customer_name = models.CharField(_("customer"), max_length=300)
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=LEAD_PHONE_MAX_LENGTH, blank=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 two-letter code"))
    region = models.CharField(_("region"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    product_line = models.ForeignKey(
        ProductLine,
        verbose_name=_("product line"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
    )
    products = models.ManyToManyField(Product, verbose_name=_("products"), blank=True, related_name="leads")
    estimated_value = models.DecimalField(_("estimated value"), max_digits=16, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.RUB)
    source = models.CharField(_("source"), max_length=16, choices=LeadSource.choices, default=LeadSource.OTHER)
    description = models.TextField(_("description"), blank=True)

    status = models.CharField(_("status"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    # Denormalised from the open LeadOffer for the inbox and board queries.
    offered_to = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("offered to"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offered_leads",
    )
    offered_at = models.DateTimeField(_("offered"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("offer expires"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    registration = models.OneToOneField(
        DealRegistration,
        verbose_name=_("deal registration"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lead",
    )
    routing_rule = models.ForeignKey(
        RoutingRule,
        verbose_name=_("routing rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    routing_attempts = models.PositiveSmallIntegerField(_("routing attempts"), default=0)
    spam_flags = models.PositiveSmallIntegerField(_("spam flags"), default=0)
    closed_reason = models.TextField(_("reason closed"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="created_leads",
    )
    lead_import = models.ForeignKey(
        "LeadImport", verbose_name=_("import"), on_delete=models.SET_NULL, null=True, blank=True, related_name="leads"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.CheckConstraint(name="lead_status_valid", condition=Q(status__in=LeadStatus.values)),
            models.CheckConstraint(name="lead_country_iso2", condition=Q(country__regex=r"^[A-Z]{2}$")),
            models.CheckConstraint(
                name="lead_reference_format", condition=Q(reference__regex=r"^L-[0-9]{4}-[0-9]{5,}$")
            ),
            models.CheckConstraint(
                name="lead_value_nonneg", condition=Q(estimated_value__isnull=True) | Q(estimated_value__gte=0)
            ),
            models.CheckConstraint(
                name="lead_coordinates_together",
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
            ),
            # Offered ⇔ a partner and a deadline.
            models.CheckConstraint(
                name="lead_offered_has_partner",
                condition=(
                    Q(status=LeadStatus.OFFERED)
                    & Q(offered_to__isnull=False, offered_at__isnull=False, offer_expires_at__isnull=False)
                )
                | (~Q(status=LeadStatus.OFFERED) & Q(offer_expires_at__isnull=True)),
            ),
            # Offered_to stays on an accepted lead (who took it); elsewhere it is empty.
            models.CheckConstraint(
                name="lead_offered_to_only_offered_or_accepted",
                condition=Q(status__in=[LeadStatus.OFFERED, LeadStatus.ACCEPTED]) | Q(offered_to__isnull=True),
            ),
            # Accepted ⇔ it became a registration.
            models.CheckConstraint(
                name="lead_accepted_has_registration",
                condition=(
                    Q(status=LeadStatus.ACCEPTED)
                    & Q(registration__isnull=False, offered_to__isnull=False, accepted_at__isnull=False)
                )
                | (~Q(status=LeadStatus.ACCEPTED) & Q(registration__isnull=True)),
            ),
            models.CheckConstraint(
                name="lead_closed_needs_reason", condition=~Q(status=LeadStatus.CLOSED) | ~Q(closed_reason="")
            ),
            _text_at_most("lead", "description", LEAD_DESCRIPTION_MAX_LENGTH),
            _text_at_most("lead", "closed_reason", LEAD_REASON_MAX_LENGTH),
        ]
        indexes = [
            # Cabinet inbox: "offered_to = :partner AND status = 'offered' ORDER BY offer_expires_at".
            models.Index(
                fields=["offered_to", "offer_expires_at"],
                condition=Q(status=LeadStatus.OFFERED),
                name="lead_inbox_idx",
            ),
            # Staff board: by status, newest first; and by country.
            models.Index(fields=["status", "-created_at"], name="lead_status_created_idx"),
            models.Index(fields=["country", "status"], name="lead_country_status_idx"),
        ]

    def __str__(self):
        return self.reference

    @property
    def is_open_offer(self) -> bool:
        return self.status == LeadStatus.OFFERED


class RoutingBand(models.TextChoices):
    COUNTRY = "country", _("Same country, no coordinates")
    DISTANCE = "distance", _("Same country, by distance")
    ABROAD = "abroad", _("Nearest abroad")
    MANUAL = "manual", _("Manual assignment")
    NONE = "none", _("No partner available")


class RoutingDecision(models.Model):
    """One routing attempt of a lead and why it went where it went ("why this partner").

    `candidates`: list of {partner_id, public_id, name, base_weight, acceptance_boost,
    win_boost, weight, distance_km, open_leads, capacity, probability}: the heaviest
    (routing.SHOWN_CANDIDATES) of the band that matched, plus the chosen partner; probability
    is over the whole band. `candidate_count`: how many partners the band held (the draw was
    among all of them); empty on manual decisions, which had no band.
    `exclusions`: {"counts": {reason: n}, "sample": [{partner_id, name, reason}, …]} (bounded).
    """

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="decisions")
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    rule = models.ForeignKey(
        RoutingRule, verbose_name=_("rule"), on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    rule_name = models.CharField(_("rule name"), max_length=120, blank=True)
    band = models.CharField(_("band"), max_length=16, choices=RoutingBand.choices)
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("chosen partner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routing_decisions",
    )
    candidates = models.JSONField(_("candidates"), default=list, blank=True)
    candidate_count = models.PositiveIntegerField(_("partners in the band"), null=True, blank=True)
    exclusions = models.JSONField(_("exclusions"), default=dict, blank=True)
    draw = models.FloatField(_("random draw"), null=True, blank=True)
    manual = models.BooleanField(_("manual"), default=False)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routing_decisions",
    )
    created_at = models.DateTimeField(_("decided"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["lead", "attempt"]
        verbose_name = _("routing decision")
        verbose_name_plural = _("routing decisions")
        constraints = [
            models.UniqueConstraint(fields=["lead", "attempt"], name="routingdecision_attempt_unique"),
            models.CheckConstraint(name="routingdecision_band_valid", condition=Q(band__in=RoutingBand.values)),
            models.CheckConstraint(
                name="routingdecision_none_has_no_partner",
                condition=~Q(band=RoutingBand.NONE) | Q(partner__isnull=True),
            ),
            models.CheckConstraint(name="routingdecision_manual_has_reason", condition=Q(manual=False) | ~Q(reason="")),
        ]

    def __str__(self):
        return f"{self.lead_id}#{self.attempt} → {self.partner_id or '-'}"


class LeadOfferStatus(models.TextChoices):
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Timed out")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class LeadOffer(TimeStampedModel):
    """One offer of a lead to one partner. A partner is offered a lead at most once (the
    unique pair): declined, timed out or withdrawn, it never gets that lead again."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="offers")
    partner = models.ForeignKey(
        "partners.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="lead_offers"
    )
    decision = models.ForeignKey(
        RoutingDecision, verbose_name=_("decision"), on_delete=models.PROTECT, related_name="offers"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=LeadOfferStatus.choices, default=LeadOfferStatus.OFFERED
    )
    offered_at = models.DateTimeField(_("offered"))
    expires_at = models.DateTimeField(_("expires"))
    remind_at = models.DateTimeField(_("reminder due"))
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    responded_at = models.DateTimeField(_("responded"), null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lead_offer_responses",
    )
    decline_reason = models.TextField(_("reason declined"), blank=True)
    spam = models.BooleanField(_("flagged as spam"), default=False)

    class Meta:
        ordering = ["-offered_at", "-id"]
        verbose_name = _("lead offer")
        verbose_name_plural = _("lead offers")
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "partner"],
                name="leadoffer_once_per_partner",
                violation_error_message=_("This partner was already offered this lead."),
            ),
            models.UniqueConstraint(
                fields=["lead"], condition=Q(status=LeadOfferStatus.OFFERED), name="leadoffer_one_open_per_lead"
            ),
            models.CheckConstraint(name="leadoffer_status_valid", condition=Q(status__in=LeadOfferStatus.values)),
            models.CheckConstraint(name="leadoffer_expires_after_offer", condition=Q(expires_at__gt=F("offered_at"))),
            models.CheckConstraint(
                name="leadoffer_declined_has_reason",
                condition=~Q(status=LeadOfferStatus.DECLINED) | ~Q(decline_reason=""),
            ),
            models.CheckConstraint(
                name="leadoffer_answered_has_time",
                condition=Q(status=LeadOfferStatus.OFFERED) | Q(responded_at__isnull=False),
            ),
            _text_at_most("leadoffer", "decline_reason", LEAD_REASON_MAX_LENGTH),
        ]
        indexes = [
            # Expiry beat task: open offers by deadline.
            models.Index(
                fields=["expires_at"], condition=Q(status=LeadOfferStatus.OFFERED), name="leadoffer_open_expiry_idx"
            ),
            # Reminder beat task: open offers past half time, not reminded.
            models.Index(
                fields=["remind_at"],
                condition=Q(status=LeadOfferStatus.OFFERED, reminded_at__isnull=True),
                name="leadoffer_remind_idx",
            ),
            # Fairness statistics and acceptance/win boosts: offers per partner by time.
            models.Index(fields=["partner", "offered_at"], name="leadoffer_partner_time_idx"),
        ]

    def __str__(self):
        return f"{self.lead_id} → {self.partner_id} ({self.status})"


class LeadImportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class LeadImport(TimeStampedModel):
    """A CSV import of leads (staff). The import itself is one transaction: it creates every
    row or none; `errors` lists per-row problems [{row, field, message}]."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("imported by"), on_delete=models.PROTECT, related_name="lead_imports"
    )
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=LeadImportStatus.choices, default=LeadImportStatus.PENDING
    )
    total = models.PositiveIntegerField(_("rows"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead import")
        verbose_name_plural = _("lead imports")
        constraints = [
            models.CheckConstraint(name="leadimport_status_valid", condition=Q(status__in=LeadImportStatus.values)),
            models.CheckConstraint(name="leadimport_processed_le_total", condition=Q(processed__lte=F("total"))),
        ]

    def __str__(self):
        return f"{self.file_name or self.public_id} ({self.status})"
