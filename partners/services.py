"""Every write to partners and their records. Staff pages, the cabinet, the API, admin actions
and tasks all call these; each runs in one transaction and leaves an audit record."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import (
    STATUS_TRANSITIONS,
    Agreement,
    Contact,
    Interaction,
    Invitation,
    KeyAccountProfile,
    Partner,
    PartnerStatus,
)
from prm.audit import audit_record, diff, snapshot
from prm.emails import render_email
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import Role, User
from prm.tasks import email_send_on_commit

# What a partner admin may change about its own company; the rest is the vendor's.
PARTNER_EDITABLE_FIELDS = (
    "name",
    "description",
    "website_domain",
    "email",
    "phone",
    "address",
    "city",
    "size",
    "industries",
)
# What staff may change through partner_update (status, tier and verification have their own services).
STAFF_EDITABLE_FIELDS = (
    "name",
    "legal_name",
    "partner_type",
    "country",
    "region",
    "city",
    "address",
    "latitude",
    "longitude",
    "website_domain",
    "email",
    "phone",
    "tax_id",
    "size",
    "industries",
    "description",
    "owner",
    "is_key_account",
    "recruited_by",
)
KAM_FIELDS = (
    "general_info",
    "structure",
    "related_organisations",
    "history",
    "our_team",
    "their_team",
    "senior_sponsor",
    "currency",
    "opportunity_1y",
    "opportunity_3y",
    "opportunity_5y",
)
CONTACT_FIELDS = ("full_name", "job_title", "role", "email", "phone", "is_decision_maker", "birthday", "notes")
AGREEMENT_FIELDS = (
    "number",
    "title",
    "status",
    "commission_pct",
    "discount_pct",
    "payment_terms_days",
    "service_format",
    "response_time_hours",
    "vendor_responsible",
    "partner_responsible",
    "starts_on",
    "ends_on",
    "auto_renew",
    "signed_on",
    "notes",
)


def _require_staff(actor) -> None:
    if actor is None or not actor.is_vendor_staff:
        raise PermissionDenied(_("Only vendor staff may do this."))


def _require_partner_admin_or_staff(actor, partner: Partner) -> None:
    if actor.is_vendor_staff:
        return
    if actor.role == Role.PARTNER_ADMIN and actor.partner_id == partner.pk:
        return
    raise PermissionDenied(_("Only your company's partner admin may do this."))


def _save_clean(instance, update_fields: list[str] | None = None) -> None:
    """Validate (fields and constraints) then save; every failure becomes an ApplicationError."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()} if hasattr(exc, "error_dict") else {}
        raise ApplicationError(" ".join(exc.messages), fields=fields) from exc
    try:
        instance.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise ApplicationError(_("This conflicts with an existing record: %(detail)s") % {"detail": exc}) from exc


def _apply(instance, data: dict, allowed: tuple[str, ...]) -> list[str]:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ApplicationError(
            _("These fields cannot be changed here: %(fields)s") % {"fields": ", ".join(sorted(unknown))},
            fields={k: [_("Not editable.")] for k in unknown},
        )
    changed = []
    for key, value in data.items():
        if key == "website_domain" and value:
            value = normalize_domain(value)
        if key == "country" and isinstance(value, str):
            value = value.strip().upper()
        if getattr(instance, key) != value:
            setattr(instance, key, value)
            changed.append(key)
    return changed


def normalize_domain(value: str) -> str:
    """'https://WWW.Example.com/path' → 'example.com' (the form partner records keep)."""
    value = (value or "").strip().lower()
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    value = value.split("/")[0].split("?")[0].split("#")[0].split(":")[0]
    if value.startswith("www."):
        value = value[4:]
    return value.rstrip(".")


# --- Partners ---------------------------------------------------------------------------


@transaction.atomic
def partner_create(*, actor, kam: dict | None = None, **fields) -> Partner:
    _require_staff(actor)
    status = fields.pop("status", PartnerStatus.PROSPECT)
    tier = fields.pop("tier", None)
    partner = Partner(status=status, status_changed_at=timezone.now(), tier=tier)
    if tier is not None:
        partner.tier_since = timezone.localdate()
    _apply(partner, fields, STAFF_EDITABLE_FIELDS)
    _save_clean(partner)
    if partner.is_key_account or kam:
        kam_profile = KeyAccountProfile(partner=partner)
        _apply(kam_profile, kam or {}, KAM_FIELDS)
        _save_clean(kam_profile)
    audit_record(actor=actor, action="partner.create", instance=partner, after=snapshot(partner))
    return partner


@transaction.atomic
def partner_update(*, actor, partner: Partner, data: dict, reason: str = "") -> Partner:
    """Staff edit of a partner's profile (not status, tier or verification)."""
    _require_staff(actor)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    before = snapshot(partner)
    changed = _apply(partner, data, STAFF_EDITABLE_FIELDS)
    if not changed:
        return partner
    _save_clean(partner, update_fields=[*changed, "updated_at"])
    if partner.is_key_account:
        KeyAccountProfile.objects.get_or_create(partner=partner)
    b, a = diff(before, snapshot(partner))
    audit_record(actor=actor, action="partner.update", instance=partner, before=b, after=a, reason=reason)
    return partner


@transaction.atomic
def partner_update_own_profile(*, actor, partner: Partner, data: dict) -> Partner:
    """A partner admin edits the fields of its own company that the vendor lets it edit."""
    _require_partner_admin_or_staff(actor, partner)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    before = snapshot(partner)
    changed = _apply(partner, data, PARTNER_EDITABLE_FIELDS)
    if not changed:
        return partner
    _save_clean(partner, update_fields=[*changed, "updated_at"])
    b, a = diff(before, snapshot(partner))
    audit_record(actor=actor, action="partner.update_own_profile", instance=partner, before=b, after=a)
    return partner


@transaction.atomic
def partner_change_status(*, actor, partner: Partner, status: str, reason: str = "") -> Partner:
    """Move a partner along its lifecycle. Terminating deactivates its cabinet users."""
    _require_staff(actor)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if status not in PartnerStatus.values:
        raise ApplicationError(_("Unknown status: %(status)s") % {"status": status})
    if status not in STATUS_TRANSITIONS[partner.status]:
        raise StateError(
            _("A partner cannot go from “%(old)s” to “%(new)s”.")
            % {"old": partner.get_status_display(), "new": PartnerStatus(status).label}
        )
    if status in (PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED) and not reason.strip():
        raise ApplicationError(_("Give a reason."), fields={"reason": [_("A reason is required.")]})
    old = partner.status
    partner.status = status
    partner.status_changed_at = timezone.now()
    _save_clean(partner, update_fields=["status", "status_changed_at", "updated_at"])
    if status == PartnerStatus.TERMINATED:
        User.objects.filter(partner=partner, is_active=True).update(is_active=False)
    audit_record(
        actor=actor,
        action="partner.change_status",
        instance=partner,
        before={"status": old},
        after={"status": status},
        reason=reason,
    )
    return partner


@transaction.atomic
def partner_set_verified(*, actor, partner: Partner, verified: bool, reason: str = "") -> Partner:
    _require_staff(actor)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.verified == verified:
        return partner
    partner.verified = verified
    partner.verified_at = timezone.now() if verified else None
    _save_clean(partner, update_fields=["verified", "verified_at", "updated_at"])
    audit_record(
        actor=actor,
        action="partner.set_verified",
        instance=partner,
        before={"verified": not verified},
        after={"verified": verified},
        reason=reason,
    )
    return partner


@transaction.atomic
def partner_set_tier(*, actor, partner: Partner, tier, reason: str) -> Partner:
    """Write the partner's tier (and tier date) with an audit row. Called only by the tier engine,
    programs.services.tiers (evaluation, approvals and tier_set_manual), which records the tier
    history (TierChange) around it; setting a tier by hand goes through tier_set_manual."""
    _require_staff(actor)
    if not reason.strip():
        raise ApplicationError(_("Give a reason."), fields={"reason": [_("A reason is required.")]})
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.tier_id == (tier.pk if tier else None):
        return partner
    old = partner.tier_id
    partner.tier = tier
    partner.tier_since = timezone.localdate()
    _save_clean(partner, update_fields=["tier", "tier_since", "updated_at"])
    audit_record(
        actor=actor,
        action="partner.set_tier",
        instance=partner,
        before={"tier_id": old},
        after={"tier_id": partner.tier_id},
        reason=reason,
    )
    return partner


@transaction.atomic
def kam_profile_update(*, actor, partner: Partner, data: dict) -> KeyAccountProfile:
    _require_staff(actor)
    profile, _created = KeyAccountProfile.objects.select_for_update().get_or_create(partner=partner)
    before = snapshot(profile)
    changed = _apply(profile, data, KAM_FIELDS)
    if changed:
        _save_clean(profile, update_fields=[*changed, "updated_at"])
        b, a = diff(before, snapshot(profile))
        audit_record(actor=actor, action="kam.update", instance=profile, before=b, after=a, partner_id=partner.pk)
    return profile


# --- Contacts ---------------------------------------------------------------------------


@transaction.atomic
def contact_create(*, actor, partner: Partner, **fields) -> Contact:
    _require_partner_admin_or_staff(actor, partner)
    contact = Contact(partner=partner)
    _apply(contact, fields, CONTACT_FIELDS)
    contact.email = contact.email.lower()
    _save_clean(contact)
    audit_record(actor=actor, action="contact.create", instance=contact, after=snapshot(contact, list(CONTACT_FIELDS)))
    return contact


@transaction.atomic
def contact_update(*, actor, contact: Contact, data: dict) -> Contact:
    _require_partner_admin_or_staff(actor, contact.partner)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    before = snapshot(contact, list(CONTACT_FIELDS))
    changed = _apply(contact, data, CONTACT_FIELDS)
    if changed:
        contact.email = contact.email.lower()
        _save_clean(contact, update_fields=[*changed, "updated_at"])
        b, a = diff(before, snapshot(contact, list(CONTACT_FIELDS)))
        audit_record(actor=actor, action="contact.update", instance=contact, before=b, after=a)
    return contact


@transaction.atomic
def contact_deactivate(*, actor, contact: Contact) -> Contact:
    _require_partner_admin_or_staff(actor, contact.partner)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.is_active:
        contact.is_active = False
        _save_clean(contact, update_fields=["is_active", "updated_at"])
        audit_record(
            actor=actor,
            action="contact.deactivate",
            instance=contact,
            before={"is_active": True},
            after={"is_active": False},
        )
    return contact


# --- Agreements -------------------------------------------------------------------------


def _check_agreement_contact(agreement: Agreement) -> None:
    contact = agreement.partner_responsible
    if contact is not None and contact.partner_id != agreement.partner_id:
        raise ApplicationError(
            _("That contact works for another partner."),
            fields={"partner_responsible": [_("Choose a contact of this partner.")]},
        )


@transaction.atomic
def agreement_create(*, actor, partner: Partner, **fields) -> Agreement:
    _require_staff(actor)
    agreement = Agreement(partner=partner)
    _apply(agreement, fields, AGREEMENT_FIELDS)
    _check_agreement_contact(agreement)
    _save_clean(agreement)
    audit_record(actor=actor, action="agreement.create", instance=agreement, after=snapshot(agreement))
    return agreement


@transaction.atomic
def agreement_update(*, actor, agreement: Agreement, data: dict, reason: str = "") -> Agreement:
    _require_staff(actor)
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    before = snapshot(agreement)
    changed = _apply(agreement, data, AGREEMENT_FIELDS)
    if changed:
        _check_agreement_contact(agreement)
        _save_clean(agreement, update_fields=[*changed, "updated_at"])
        b, a = diff(before, snapshot(agreement))
        audit_record(actor=actor, action="agreement.update", instance=agreement, before=b, after=a, reason=reason)
    return agreement


# --- Interactions -----------------------------------------------------------------------


@transaction.atomic
def interaction_log(
    *,
    actor,
    partner: Partner,
    kind: str,
    subject: str,
    occurred_at=None,
    body: str = "",
    contact: Contact | None = None,
    next_step: str = "",
    next_step_due=None,
) -> Interaction:
    _require_staff(actor)
    if contact is not None and contact.partner_id != partner.pk:
        raise ApplicationError(
            _("That contact works for another partner."), fields={"contact": [_("Choose a contact of this partner.")]}
        )
    if next_step_due and not next_step.strip():
        raise ApplicationError(
            _("A due date needs a next step."),
            fields={"next_step": [_("Describe the next step or clear the due date.")]},
        )
    interaction = Interaction(
        partner=partner,
        author=actor,
        contact=contact,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        subject=subject,
        body=body,
        next_step=next_step.strip(),
        next_step_due=next_step_due,
    )
    _save_clean(interaction)
    audit_record(
        actor=actor,
        action="interaction.log",
        instance=interaction,
        after=snapshot(interaction, ["kind", "subject", "next_step", "next_step_due"]),
    )
    return interaction


@transaction.atomic
def interaction_complete_step(*, actor, interaction: Interaction) -> Interaction:
    _require_staff(actor)
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk)
    if not interaction.next_step:
        raise StateError(_("This interaction has no next step."))
    if interaction.next_step_done_at is not None:
        return interaction
    interaction.next_step_done_at = timezone.now()
    _save_clean(interaction, update_fields=["next_step_done_at", "updated_at"])
    audit_record(
        actor=actor,
        action="interaction.complete_step",
        instance=interaction,
        after={"next_step_done_at": interaction.next_step_done_at.isoformat()},
    )
    return interaction


# --- Cabinet users and invitations ------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, actor, partner: Partner, email: str, full_name: str = "", role: str = Role.PARTNER_REP
) -> tuple[Invitation, str]:
    """Invite a colleague by e-mail. Returns the invitation and the raw token (sent, never stored)."""
    _require_partner_admin_or_staff(actor, partner)
    email = email.strip().lower()
    if role not in (Role.PARTNER_ADMIN, Role.PARTNER_REP):
        raise ApplicationError(_("Choose partner admin or partner rep."), fields={"role": [_("Invalid role.")]})
    if partner.status == PartnerStatus.TERMINATED:
        raise StateError(_("This partner is terminated; it cannot invite anyone."))
    if User.objects.filter(email=email).exists():
        raise ApplicationError(
            _("%(email)s already has an account.") % {"email": email},
            fields={"email": [_("This address already has an account.")]},
        )
    now = timezone.now()
    # An expired open invitation for the same address gives way to the new one.
    open_qs = Invitation.objects.select_for_update().filter(
        partner=partner, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    for old in open_qs:
        if old.expires_at > now:
            raise ApplicationError(
                _("%(email)s has already been invited; the link is valid until %(until)s.")
                % {"email": email, "until": timezone.localtime(old.expires_at).strftime("%Y-%m-%d %H:%M")},
                fields={"email": [_("Already invited.")]},
            )
        old.revoked_at = now
        old.save(update_fields=["revoked_at", "updated_at"])
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        partner=partner,
        email=email,
        full_name=full_name.strip(),
        role=role,
        invited_by=actor,
        token_hash=_token_hash(token),
        expires_at=now + timedelta(hours=settings.PRM["INVITATION_TTL_HOURS"]),
    )
    _save_clean(invitation)
    audit_record(actor=actor, action="invitation.create", instance=invitation, after={"email": email, "role": role})
    accept_url = settings.SITE_URL + reverse("cabinet:invitation_accept", args=[token])
    subject, text, html = render_email(
        "emails/invitation",
        {
            "invitation": invitation,
            "partner": partner,
            "inviter": actor,
            "accept_url": accept_url,
            "ttl_hours": settings.PRM["INVITATION_TTL_HOURS"],
        },
    )
    email_send_on_commit(to=[email], subject=subject, text=text, html=html)
    return invitation, token


def invitation_get_by_token(token: str) -> Invitation | None:
    """The open, unexpired invitation this token belongs to, or None."""
    try:
        invitation = Invitation.objects.select_related("partner").get(token_hash=_token_hash(token))
    except Invitation.DoesNotExist:
        return None
    if invitation.accepted_at or invitation.revoked_at or invitation.expires_at <= timezone.now():
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, full_name: str, password: str) -> User:
    """Single use: the first acceptance creates the account; later ones fail."""
    try:
        invitation = Invitation.objects.select_for_update().select_related("partner").get(token_hash=_token_hash(token))
    except Invitation.DoesNotExist:
        raise ApplicationError(_("This invitation link is not valid.")) from None
    if invitation.accepted_at:
        raise StateError(_("This invitation has already been used. Log in instead."))
    if invitation.revoked_at:
        raise StateError(_("This invitation was withdrawn. Ask your company's admin for a new one."))
    if invitation.expires_at <= timezone.now():
        raise StateError(_("This invitation has expired. Ask your company's admin for a new one."))
    if invitation.partner.status == PartnerStatus.TERMINATED:
        raise StateError(_("This partner account is closed."))
    if User.objects.filter(email=invitation.email).exists():
        raise ApplicationError(_("%(email)s already has an account. Log in instead.") % {"email": invitation.email})
    full_name = full_name.strip()
    if not full_name:
        raise ApplicationError(_("Enter your name."), fields={"full_name": [_("This field is required.")]})
    user = User(email=invitation.email, full_name=full_name, role=invitation.role, partner=invitation.partner)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), fields={"password": exc.messages}) from exc
    user.set_password(password)
    _save_clean(user)
    Contact.objects.filter(partner=invitation.partner, email=invitation.email, user__isnull=True).update(user=user)
    if not Contact.objects.filter(user=user).exists():
        Contact.objects.create(partner=invitation.partner, full_name=full_name, email=invitation.email, user=user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user", "updated_at"])
    audit_record(actor=user, action="invitation.accept", instance=invitation, after={"user_id": user.pk})
    return user


@transaction.atomic
def invitation_revoke(*, actor, invitation: Invitation) -> Invitation:
    _require_partner_admin_or_staff(actor, invitation.partner)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at:
        raise StateError(_("This invitation has already been accepted."))
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        audit_record(actor=actor, action="invitation.revoke", instance=invitation)
    return invitation


@transaction.atomic
def partner_user_set_active(*, actor, user: User, active: bool) -> User:
    """A partner admin (or staff) deactivates or reactivates a colleague."""
    if not user.is_partner_user:
        raise PermissionDenied(_("Only partner users can be managed here."))
    _require_partner_admin_or_staff(actor, user.partner)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active == active:
        return user
    if not active:
        if user.pk == actor.pk:
            raise ApplicationError(_("You cannot deactivate yourself."))
        if user.role == Role.PARTNER_ADMIN:
            other_admins = User.objects.filter(
                partner_id=user.partner_id, role=Role.PARTNER_ADMIN, is_active=True
            ).exclude(pk=user.pk)
            if not other_admins.exists():
                raise ApplicationError(_("A company needs at least one active partner admin."))
    user.is_active = active
    _save_clean(user, update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor,
        action="partner_user.activate" if active else "partner_user.deactivate",
        instance=user,
        before={"is_active": not active},
        after={"is_active": active},
        partner_id=user.partner_id,
    )
    return user


# Certifications live in their own module; import them from here like every partner write.
from partners.services_certifications import (  # noqa: E402, F401
    certification_create,
    certification_expiry_reminders,
    certification_revoke,
    certification_update,
)
