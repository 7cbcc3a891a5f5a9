"""Partners, their people, agreements, interactions, invitations and the tier definitions."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from prm.models import Currency, TimeStampedModel

PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class Tier(TimeStampedModel):
    """A channel tier: what it takes to qualify and what it gives. The engine comes later."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    code = models.SlugField(_("code"), max_length=30, unique=True)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("Higher is better; 0 is entry."))
    description = models.TextField(_("description"), blank=True)
    # Qualification thresholds over the trailing window.
    min_revenue = models.DecimalField(_("minimum revenue (12 months)"), max_digits=16, decimal_places=2, default=0)
    min_certified_people = models.PositiveIntegerField(_("minimum certified people"), default=0)
    min_won_deals = models.PositiveIntegerField(_("minimum won deals"), default=0)
    # Benefits.
    discount_pct = models.DecimalField(_("discount %"), max_digits=5, decimal_places=2, default=0, validators=PERCENT)
    protection_days = models.PositiveSmallIntegerField(
        _("deal protection (days)"), default=90, help_text=_("0 means registrations get no protection.")
    )
    max_extensions = models.PositiveSmallIntegerField(_("protection extensions allowed"), default=1)
    points_multiplier = models.DecimalField(_("points multiplier"), max_digits=5, decimal_places=2, default=1)
    mdf_eligible = models.BooleanField(_("MDF eligible"), default=False)
    mdf_share_pct = models.DecimalField(_("MDF share %"), max_digits=5, decimal_places=2, default=0, validators=PERCENT)
    lead_weight = models.PositiveSmallIntegerField(
        _("lead routing weight"), default=1, help_text=_("0 means partners of this tier never receive leads.")
    )
    max_open_leads = models.PositiveIntegerField(
        _("maximum open leads"),
        null=True,
        blank=True,
        help_text=_("Open lead offers a partner of this tier may hold at once. Empty = unlimited."),
    )

    class Meta:
        ordering = ["rank"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        constraints = [
            models.CheckConstraint(
                name="tier_discount_pct_range", condition=Q(discount_pct__gte=0, discount_pct__lte=100)
            ),
            models.CheckConstraint(
                name="tier_mdf_pct_range", condition=Q(mdf_share_pct__gte=0, mdf_share_pct__lte=100)
            ),
            models.CheckConstraint(name="tier_min_revenue_nonneg", condition=Q(min_revenue__gte=0)),
            models.CheckConstraint(name="tier_points_multiplier_nonneg", condition=Q(points_multiplier__gte=0)),
            models.CheckConstraint(
                name="tier_protection_days_choice", condition=Q(protection_days__in=[0, 30, 60, 90, 120])
            ),
        ]

    def __str__(self):
        return self.name


class PartnerType(models.TextChoices):
    RESELLER = "reseller", _("Reseller")
    DISTRIBUTOR = "distributor", _("Distributor")
    SYSTEM_INTEGRATOR = "system_integrator", _("System integrator")
    MSP = "msp", _("Managed service provider")
    RETAILER = "retailer", _("Retailer")
    REFERRAL = "referral", _("Referral / affiliate")
    SUPPLIER = "supplier", _("Supplier")
    AGENCY = "agency", _("Agency")


class PartnerStatus(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    APPLICANT = "applicant", _("Applicant")
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    TERMINATED = "terminated", _("Terminated")


# The lifecycle: which status may follow which. Terminated is final.
STATUS_TRANSITIONS: dict[str, set[str]] = {
    PartnerStatus.PROSPECT: {PartnerStatus.APPLICANT, PartnerStatus.TERMINATED},
    PartnerStatus.APPLICANT: {PartnerStatus.ONBOARDING, PartnerStatus.TERMINATED},
    PartnerStatus.ONBOARDING: {PartnerStatus.ACTIVE, PartnerStatus.TERMINATED},
    PartnerStatus.ACTIVE: {PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED},
    PartnerStatus.SUSPENDED: {PartnerStatus.ACTIVE, PartnerStatus.TERMINATED},
    PartnerStatus.TERMINATED: set(),
}


class PartnerSize(models.TextChoices):
    MICRO = "micro", _("1–9 employees")
    SMALL = "small", _("10–49 employees")
    MEDIUM = "medium", _("50–249 employees")
    LARGE = "large", _("250–999 employees")
    ENTERPRISE = "enterprise", _("1000+ employees")


class Region(models.TextChoices):
    RUSSIA = "russia", _("Russia")
    CIS = "cis", _("CIS")
    EUROPE = "europe", _("Europe")
    CHINA = "china", _("China")
    ASIA = "asia", _("Asia-Pacific")
    AMERICAS = "americas", _("Americas")
    MEA = "mea", _("Middle East & Africa")


class Partner(TimeStampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("display name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=300)
    partner_type = models.CharField(_("type"), max_length=32, choices=PartnerType.choices)
    status = models.CharField(_("status"), max_length=16, choices=PartnerStatus.choices, default=PartnerStatus.PROSPECT)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    # Location. Region is the sales region used for reporting and routing.
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 two-letter code"))
    region = models.CharField(_("region"), max_length=16, choices=Region.choices)
    city = models.CharField(_("city"), max_length=120, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    website_domain = models.CharField(_("website domain"), max_length=253, blank=True)
    email = models.EmailField(_("general e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True)
    size = models.CharField(_("size"), max_length=16, choices=PartnerSize.choices, blank=True)
    industries = ArrayField(models.CharField(max_length=60), verbose_name=_("industries"), default=list, blank=True)
    description = models.TextField(_("about the company"), blank=True)
    verified = models.BooleanField(_("verified"), default=False, help_text=_("Passed a trial project."))
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("channel manager"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_partners",
        limit_choices_to={"role__in": ["channel_manager", "channel_lead", "administrator"]},
    )
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), on_delete=models.PROTECT, null=True, blank=True, related_name="partners"
    )
    tier_since = models.DateField(_("tier reached on"), null=True, blank=True)
    is_key_account = models.BooleanField(_("key account"), default=False)
    is_dormant = models.BooleanField(_("dormant"), default=False)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    # Lead routing overrides (PRODUCT §2.3); empty = the tier's value.
    lead_weight = models.PositiveSmallIntegerField(
        _("lead routing weight"),
        null=True,
        blank=True,
        help_text=_("Overrides the tier's weight. 0 means this partner never receives leads."),
    )
    max_open_leads = models.PositiveIntegerField(
        _("maximum open leads"), null=True, blank=True, help_text=_("Overrides the tier's capacity.")
    )
    recruited_by = models.ForeignKey(
        "self",
        verbose_name=_("recruited by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recruited_partners",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        constraints = [
            models.CheckConstraint(
                name="partner_status_valid", condition=Q(status__in=[s.value for s in PartnerStatus])
            ),
            models.CheckConstraint(
                name="partner_type_valid", condition=Q(partner_type__in=[t.value for t in PartnerType])
            ),
            models.CheckConstraint(
                name="partner_country_iso2",
                condition=Q(country__regex=r"^[A-Z]{2}$"),
                violation_error_message=_("Country must be a two-letter ISO code, e.g. RU."),
            ),
            models.CheckConstraint(
                name="partner_latitude_range",
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
            ),
            models.CheckConstraint(
                name="partner_longitude_range",
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
            ),
            models.CheckConstraint(
                name="partner_coordinates_together",
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
            ),
            models.CheckConstraint(
                name="partner_verified_has_date", condition=Q(verified=False) | Q(verified_at__isnull=False)
            ),
            # One company per tax id within a country.
            models.UniqueConstraint(
                fields=["country", "tax_id"],
                condition=~Q(tax_id=""),
                name="partner_tax_id_unique_per_country",
                violation_error_message=_("A partner with this tax id already exists in this country."),
            ),
        ]
        indexes = [
            # Staff partner list: "my partners" filtered by status, sorted by name.
            models.Index(fields=["owner", "status", "name"], name="partner_owner_status_idx"),
            # Filters by tier and region on the partner list and reports.
            models.Index(fields=["tier", "status"], name="partner_tier_status_idx"),
            models.Index(fields=["region", "country"], name="partner_region_idx"),
            # Search box: name/legal name substring match (ILIKE '%q%') uses trigrams.
            GinIndex(fields=["name"], opclasses=["gin_trgm_ops"], name="partner_name_trgm"),
            GinIndex(fields=["legal_name"], opclasses=["gin_trgm_ops"], name="partner_legal_name_trgm"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == PartnerStatus.ACTIVE

    def allowed_transitions(self) -> list[str]:
        return sorted(STATUS_TRANSITIONS[self.status])


class KeyAccountProfile(TimeStampedModel):
    """The KAM profile: structure, related organisations, people involved, opportunity volume."""

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="kam_profile")
    general_info = models.TextField(_("general information"), blank=True)
    structure = models.TextField(_("structure (branches, subsidiaries)"), blank=True)
    related_organisations = models.TextField(_("related organisations (competitors, counterparties)"), blank=True)
    history = models.TextField(_("history (agreements, tenders, wins and losses with reasons)"), blank=True)
    our_team = models.TextField(_("our people involved"), blank=True)
    their_team = models.TextField(_("their people involved"), blank=True)
    senior_sponsor = models.CharField(_("senior sponsor"), max_length=200, blank=True)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.RUB)
    opportunity_1y = models.DecimalField(_("opportunity, 1 year"), max_digits=16, decimal_places=2, default=0)
    opportunity_3y = models.DecimalField(_("opportunity, 3 years"), max_digits=16, decimal_places=2, default=0)
    opportunity_5y = models.DecimalField(_("opportunity, 5 years"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("key-account profile")
        verbose_name_plural = _("key-account profiles")
        constraints = [
            models.CheckConstraint(
                name="kam_opportunity_nonneg",
                condition=Q(opportunity_1y__gte=0, opportunity_3y__gte=0, opportunity_5y__gte=0),
            ),
        ]

    def __str__(self):
        return f"KAM: {self.partner}"


class ContactRole(models.TextChoices):
    EXECUTIVE = "executive", _("Executive")
    SALES = "sales", _("Sales")
    PRESALES = "presales", _("Presales / technical")
    MARKETING = "marketing", _("Marketing")
    FINANCE = "finance", _("Finance")
    SUPPORT = "support", _("Support")
    OTHER = "other", _("Other")


class Contact(TimeStampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="contacts")
    full_name = models.CharField(_("full name"), max_length=200)
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=ContactRole.choices, default=ContactRole.OTHER)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    is_decision_maker = models.BooleanField(_("decision maker"), default=False)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # The cabinet user this contact is, if any.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="contact"
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["full_name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "email"],
                condition=~Q(email=""),
                name="contact_email_unique_per_partner",
                violation_error_message=_("This partner already has a contact with this e-mail."),
            ),
        ]
        indexes = [
            # Birthday reminders look contacts up by month and day.
            models.Index(fields=["birthday"], name="contact_birthday_idx", condition=Q(birthday__isnull=False)),
        ]

    def __str__(self):
        return self.full_name


class Certification(TimeStampedModel):
    """A certificate one of the partner's people holds. Unexpired ones count for tiers and
    earn points; `expires_on` empty means it does not expire."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contact = models.ForeignKey(
        Contact, verbose_name=_("person"), on_delete=models.PROTECT, related_name="certifications"
    )
    course = models.CharField(_("course"), max_length=200)
    certificate_number = models.CharField(_("certificate number"), max_length=64, blank=True)
    earned_on = models.DateField(_("earned on"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)

    class Meta:
        ordering = ["-earned_on", "-id"]
        verbose_name = _("certification")
        verbose_name_plural = _("certifications")
        constraints = [
            models.CheckConstraint(
                name="certification_expires_after_earned",
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=F("earned_on")),
                violation_error_message=_("A certificate must expire after the day it was earned."),
            ),
            models.UniqueConstraint(
                fields=["contact", "course", "earned_on"],
                name="certification_unique_per_person_course_day",
                violation_error_message=_("This person already has this certificate from that day."),
            ),
        ]
        indexes = [
            # Tier evaluation and health count unexpired certificates per partner's people.
            models.Index(fields=["contact", "expires_on"], name="certification_contact_exp_idx"),
        ]

    def __str__(self):
        return f"{self.course} ({self.contact_id})"


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    TERMINATED = "terminated", _("Terminated")


class Agreement(TimeStampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="agreements")
    number = models.CharField(_("number"), max_length=60)
    title = models.CharField(_("title"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT
    )
    commission_pct = models.DecimalField(
        _("commission %"), max_digits=5, decimal_places=2, default=0, validators=PERCENT
    )
    discount_pct = models.DecimalField(_("discount %"), max_digits=5, decimal_places=2, default=0, validators=PERCENT)
    payment_terms_days = models.PositiveSmallIntegerField(_("payment terms (days)"), default=30)
    service_format = models.CharField(_("service format"), max_length=200, blank=True)
    response_time_hours = models.PositiveSmallIntegerField(_("response time (hours)"), null=True, blank=True)
    vendor_responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible on our side"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="responsible_agreements",
    )
    partner_responsible = models.ForeignKey(
        Contact,
        verbose_name=_("responsible on the partner's side"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="responsible_agreements",
    )
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"), null=True, blank=True)
    auto_renew = models.BooleanField(_("renews automatically"), default=False)
    signed_on = models.DateField(_("signed"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        constraints = [
            models.CheckConstraint(
                name="agreement_dates_order", condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on"))
            ),
            models.CheckConstraint(
                name="agreement_commission_range", condition=Q(commission_pct__gte=0, commission_pct__lte=100)
            ),
            models.CheckConstraint(
                name="agreement_discount_range", condition=Q(discount_pct__gte=0, discount_pct__lte=100)
            ),
            models.CheckConstraint(
                name="agreement_active_is_signed", condition=~Q(status="active") | Q(signed_on__isnull=False)
            ),
            models.UniqueConstraint(
                fields=["partner", "number"],
                name="agreement_number_unique_per_partner",
                violation_error_message=_("This partner already has an agreement with this number."),
            ),
        ]
        indexes = [
            # Renewal reminders: active agreements by end date.
            models.Index(fields=["ends_on"], name="agreement_renewal_idx", condition=Q(status="active")),
        ]

    def __str__(self):
        return f"{self.number} — {self.partner}"


class InteractionKind(models.TextChoices):
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("E-mail")
    NOTE = "note", _("Note")
    TENDER = "tender", _("Tender")
    TRAINING = "training", _("Training")


class Interaction(TimeStampedModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="interactions")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="interactions"
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("with"), on_delete=models.SET_NULL, null=True, blank=True, related_name="interactions"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=InteractionKind.choices)
    occurred_at = models.DateTimeField(_("when"))
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("notes"), blank=True)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_due = models.DateField(_("next step due"), null=True, blank=True)
    next_step_done_at = models.DateTimeField(_("next step done"), null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [
            models.CheckConstraint(
                name="interaction_due_needs_step", condition=Q(next_step_due__isnull=True) | ~Q(next_step="")
            ),
            models.CheckConstraint(
                name="interaction_done_needs_step", condition=Q(next_step_done_at__isnull=True) | ~Q(next_step="")
            ),
        ]
        indexes = [
            # Partner timeline, newest first.
            models.Index(fields=["partner", "-occurred_at"], name="interaction_timeline_idx"),
            # "My next steps": open steps by author and due date.
            models.Index(
                fields=["author", "next_step_due"],
                name="interaction_open_steps_idx",
                condition=Q(next_step_done_at__isnull=True) & ~Q(next_step=""),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject}"

    @property
    def has_open_step(self) -> bool:
        return bool(self.next_step) and self.next_step_done_at is None


class Invitation(TimeStampedModel):
    """A single-use link by which a partner admin brings a colleague into the cabinet."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    role = models.CharField(
        _("role"),
        max_length=32,
        choices=[("partner_admin", _("Partner admin")), ("partner_rep", _("Partner rep"))],
        default="partner_rep",
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="sent_invitations"
    )
    # Only a hash of the token is stored: a leaked database does not leak working links.
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="invitation_role_partner", condition=Q(role__in=["partner_admin", "partner_rep"])
            ),
            models.CheckConstraint(
                name="invitation_not_both_accepted_and_revoked",
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
            ),
            # At most one open invitation per address and partner.
            models.UniqueConstraint(
                fields=["partner", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self):
        return f"{self.email} → {self.partner}"
