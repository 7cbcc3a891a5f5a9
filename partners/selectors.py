"""Every read of partner data, and who may see what. Views and the API never query models
directly: a partner user asking for another partner's object gets Http404 from here."""

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from partners.models import Agreement, Contact, Interaction, Invitation, KeyAccountProfile, Partner, Tier
from prm.models import AuditLog, User


def scope_to_partner(qs: QuerySet, *, user: User, partner_field: str = "partner_id") -> QuerySet:
    """Staff see every row; a partner user only its own company's; anyone else nothing."""
    if user.is_vendor_staff:
        return qs
    if user.is_partner_user:
        return qs.filter(**{partner_field: user.partner_id})
    return qs.none()


def get_or_404(qs: QuerySet, **lookup):
    """One object from an already-scoped queryset; unknown, foreign or malformed ids all give 404."""
    try:
        return qs.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404 from None


@dataclass(frozen=True)
class PartnerFilters:
    q: str = ""
    tier: str = ""  # tier code
    partner_type: str = ""
    status: str = ""
    owner: str = ""  # "me", "none" or a user's public_id
    region: str = ""
    country: str = ""
    dormant: bool | None = None
    key_account: bool | None = None


def partner_list(*, user: User, filters: PartnerFilters | None = None) -> QuerySet[Partner]:
    """Partners visible to `user`: staff see the whole channel; partner users only their own."""
    qs = Partner.objects.select_related("tier", "owner")
    if not user.is_vendor_staff:
        return qs.filter(pk=user.partner_id) if user.is_partner_user else qs.none()
    f = filters or PartnerFilters()
    if f.q:
        q = f.q.strip()
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(legal_name__icontains=q)
            | Q(tax_id=q)
            | Q(website_domain__icontains=q)
            | Q(city__icontains=q)
        )
    if f.tier:
        qs = qs.filter(tier__isnull=True) if f.tier == "none" else qs.filter(tier__code=f.tier)
    if f.partner_type:
        qs = qs.filter(partner_type=f.partner_type)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.owner == "me":
        qs = qs.filter(owner=user)
    elif f.owner == "none":
        qs = qs.filter(owner__isnull=True)
    elif f.owner:
        qs = qs.filter(owner__public_id=f.owner)
    if f.region:
        qs = qs.filter(region=f.region)
    if f.country:
        qs = qs.filter(country=f.country.upper())
    if f.dormant is not None:
        qs = qs.filter(is_dormant=f.dormant)
    if f.key_account is not None:
        qs = qs.filter(is_key_account=f.key_account)
    return qs.order_by("name", "pk")


def partner_get_for_user(*, user: User, public_id) -> Partner:
    qs = scope_to_partner(
        Partner.objects.select_related("tier", "owner", "recruited_by"), user=user, partner_field="pk"
    )
    return get_or_404(qs, public_id=public_id)


def partner_kam_profile(*, partner: Partner) -> KeyAccountProfile | None:
    try:
        return partner.kam_profile
    except KeyAccountProfile.DoesNotExist:
        return None


def contact_list(*, partner: Partner, include_inactive: bool = False) -> QuerySet[Contact]:
    qs = Contact.objects.filter(partner=partner).select_related("user")
    return qs if include_inactive else qs.filter(is_active=True)


def contact_get_for_user(*, user: User, public_id) -> Contact:
    return get_or_404(contact_list_for_user(user=user), public_id=public_id)


def contact_list_for_user(*, user: User) -> QuerySet[Contact]:
    return scope_to_partner(Contact.objects.select_related("partner", "user"), user=user)


def agreement_list(*, partner: Partner) -> QuerySet[Agreement]:
    return Agreement.objects.filter(partner=partner).select_related("vendor_responsible", "partner_responsible")


def agreement_list_for_user(*, user: User) -> QuerySet[Agreement]:
    qs = Agreement.objects.select_related("partner", "vendor_responsible", "partner_responsible")
    if user.is_vendor_staff:
        return qs
    if user.is_partner_user:
        # Drafts are internal to the vendor until they are sent for signature.
        return qs.filter(partner_id=user.partner_id).exclude(status="draft")
    return qs.none()


def agreement_get_for_user(*, user: User, public_id) -> Agreement:
    return get_or_404(agreement_list_for_user(user=user), public_id=public_id)


def interaction_list(*, partner: Partner) -> QuerySet[Interaction]:
    return Interaction.objects.filter(partner=partner).select_related("author", "contact")


def interaction_list_for_user(*, user: User) -> QuerySet[Interaction]:
    """Interactions are the vendor's notes about partners: staff only."""
    if not user.is_vendor_staff:
        return Interaction.objects.none()
    return Interaction.objects.select_related("partner", "author", "contact")


def interaction_get_for_user(*, user: User, public_id) -> Interaction:
    return get_or_404(interaction_list_for_user(user=user), public_id=public_id)


def next_steps_for_user(*, user: User, include_done: bool = False) -> QuerySet[Interaction]:
    """Open next steps the user wrote or that sit on partners the user owns, soonest first."""
    qs = (
        Interaction.objects.exclude(next_step="")
        .filter(Q(author=user) | Q(partner__owner=user))
        .select_related("partner", "author", "contact")
    )
    if not include_done:
        qs = qs.filter(next_step_done_at__isnull=True)
    return qs.order_by("next_step_due", "occurred_at")


def next_steps_overdue_count(*, user: User) -> int:
    return next_steps_for_user(user=user).filter(next_step_due__lt=timezone.localdate()).count()


def partner_user_list(*, partner: Partner) -> QuerySet[User]:
    return User.objects.filter(partner=partner).order_by("-is_active", "full_name")


def partner_user_list_for_user(*, user: User) -> QuerySet[User]:
    qs = User.objects.filter(partner__isnull=False).select_related("partner").order_by("-is_active", "full_name")
    return scope_to_partner(qs, user=user)


def partner_user_get_for_user(*, user: User, public_id) -> User:
    return get_or_404(partner_user_list_for_user(user=user), public_id=public_id)


def invitation_list_open(*, partner: Partner) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        partner=partner, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def invitation_get_for_user(*, user: User, public_id) -> Invitation:
    return get_or_404(scope_to_partner(Invitation.objects.select_related("partner"), user=user), public_id=public_id)


def partner_audit_trail(*, partner: Partner, limit: int = 50) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(partner_id=partner.pk).select_related("actor")[:limit]


def staff_user_choices() -> QuerySet[User]:
    return User.objects.filter(role__in=["channel_manager", "channel_lead", "administrator"], is_active=True).order_by(
        "full_name"
    )


def partner_counts_by_status() -> dict[str, int]:
    return dict(Partner.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))


def tier_list() -> QuerySet[Tier]:
    return Tier.objects.order_by("rank")


def partners_in_scope(*, user: User, manager: User | None = None) -> QuerySet[Partner]:
    """The partners a dashboard or report shows for `user`: a channel manager's own partners, a
    channel lead's team's (the lead's own and those of managers reporting to the lead), every
    partner for an administrator. `manager` narrows the view to one manager's partners, within
    what `user` may see. Partner users and anyone else get nothing."""
    from prm.models import Role

    if not user.is_vendor_staff:
        return Partner.objects.none()
    qs = Partner.objects.all()
    if user.role == Role.CHANNEL_MANAGER:
        qs = qs.filter(owner=user)
    elif user.role == Role.CHANNEL_LEAD:
        qs = qs.filter(Q(owner=user) | Q(owner__reports_to=user))
    if manager is not None:
        qs = qs.filter(owner=manager)
    return qs


def partner_in_scope(*, user: User, partner: Partner | int) -> bool:
    """Whether staff `user` may act on `partner` (a Partner or its id): it is one of
    partners_in_scope — a channel manager's own, a channel lead's team's, any for an
    administrator. Programs (points, redemptions, tiers) use this one rule for every write."""
    partner_id = partner.pk if isinstance(partner, Partner) else partner
    return partners_in_scope(user=user).filter(pk=partner_id).exists()


def partner_ids_in_scope(*, user: User, partner_ids) -> set[int]:
    """Of `partner_ids`, those `user` may act on (one query; for per-row buttons on a list)."""
    return set(partners_in_scope(user=user).filter(pk__in=set(partner_ids)).values_list("pk", flat=True))


def partner_get_in_scope(*, user: User, public_id) -> Partner:
    """A partner `user` may act on, for staff actions: outside the user's portfolio it is a 404
    (staff may still read it through partner_get_for_user)."""
    return get_or_404(partners_in_scope(user=user).select_related("tier", "owner"), public_id=public_id)


def partner_queue_cards(user: User, partners: QuerySet[Partner]) -> list:
    """Dashboard card (prm.dashboard): the user's open next steps (the same list as the next
    steps page: steps the user wrote or on partners the user owns), urgent when overdue. One query."""
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from prm.dashboard import QueueCard

    counts = next_steps_for_user(user=user).aggregate(
        n=Count("pk"), overdue=Count("pk", filter=Q(next_step_due__lt=timezone.localdate()))
    )
    return [
        QueueCard(
            key="next_steps_due",
            title=_("Next steps"),
            count=counts["n"],
            url=reverse("staff:next_steps"),
            urgent=counts["overdue"],
            urgent_label=_("overdue"),
            order=60,
            icon="calendar-check",
        )
    ]
