"""Helpers shared by the deal services: settings, permissions, locks, recipients, notifications."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from prm.exceptions import ApplicationError, PermissionDenied
from prm.models import Role, User
from prm.notifications import notification_send

# Defaults of the PRM[...] keys this app reads (see the lead's settings list).
DEFAULTS = {
    "DEAL_NAME_SIMILARITY": 0.6,
    "DEAL_NAME_HELD_SIMILARITY": 0.8,
    "DEAL_DEFAULT_PROTECTION_DAYS": 90,
    "DEAL_DEFAULT_MAX_EXTENSIONS": 1,
    "DEAL_EXTENSION_DAYS": 30,
    "DEAL_PROTECTION_REMINDER_DAYS": (14, 3),
    "DEAL_REVIEW_SLA_BUSINESS_DAYS": 2,
    "DEAL_REVIEW_REMINDER_FRACTION": 0.75,
    "CONFLICT_ESCALATION_DAYS": 3,
}

# pg_advisory_xact_lock key that serialises the conflict-detection section of submissions
# ("DREG" in ASCII). See registration._detect_and_record_conflicts for why it is global.
SUBMISSION_LOCK_KEY = 0x44524547


def prm_setting(key: str, default=None):
    if default is None:
        default = DEFAULTS.get(key)
    return getattr(settings, "PRM", {}).get(key, default)


def name_similarity_threshold() -> float:
    return float(prm_setting("DEAL_NAME_SIMILARITY"))


def set_trigram_threshold(threshold: float) -> None:
    """Make `%` (Django's `trigram_similar`) use `threshold` for the rest of the transaction.

    The GIN index prunes by this GUC, so setting it (rather than filtering on similarity()
    afterwards) is what keeps the candidate search index-only. Must run inside atomic().
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(threshold)])


def acquire_submission_lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SUBMISSION_LOCK_KEY])


def full_clean_or_error(instance, *, exclude=None) -> None:
    """Field validation (`full_clean`) with Django's ValidationError turned into ApplicationError.

    Unique and check constraints are left to Postgres: Django validates each one with its own
    query (a dozen round trips per registration save), the services check the business rules
    explicitly before saving, and the database rejects anything that slips through.
    """
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        messages = [m for msgs in fields.values() for m in msgs] if fields else exc.messages
        raise ApplicationError(" ".join(str(m) for m in messages), fields=fields) from exc


def too_long_message(limit: int) -> str:
    """The per-field message for text over `limit` characters (the CSV import's wording)."""
    return _("At most %(n)s characters.") % {"n": limit}


def require_max_length(value: str, *, field: str, limit: int) -> str:
    """`value` unchanged, or ApplicationError naming `field` when it is longer than `limit`.

    Forms and serializers show these limits too; holding them in the services means the API,
    the staff and cabinet pages, the admin and tasks all refuse the same text the same way.
    """
    if value and len(value) > limit:
        raise ApplicationError(
            _("The text is too long: at most %(limit)s characters, this one has %(length)s.")
            % {"limit": limit, "length": len(value)},
            fields={field: [too_long_message(limit)]},
            code="too_long",
        )
    return value


def claim_ids(queryset, *, limit: int = 500) -> list[int]:
    """Lock up to `limit` rows of `queryset` that no other worker holds (FOR UPDATE SKIP LOCKED).

    Call inside atomic() and follow with a conditional UPDATE on the same guard: a second run
    of the same beat task skips the locked rows now and finds them changed after commit.
    """
    return list(
        queryset.select_for_update(skip_locked=True, of=("self",)).order_by("pk").values_list("pk", flat=True)[:limit]
    )


# --- who may do what ----------------------------------------------------------------------


def require_staff(user) -> None:
    if not (user and user.is_active and user.is_vendor_staff):
        raise PermissionDenied(_("Only channel managers can do this."))


def require_partner_member(user, partner) -> None:
    """Staff act for any partner; a partner user only for its own company."""
    if not (user and user.is_active):
        raise PermissionDenied(_("You cannot do this."))
    if user.is_vendor_staff:
        return
    if not (user.is_partner_user and user.partner_id == partner.pk):
        raise PermissionDenied(_("You cannot act for this partner."))


def require_deal_owner(user, deal) -> None:
    """Staff, the partner's admin, or the rep who registered it."""
    require_partner_member(user, deal.partner)
    if user.is_vendor_staff or user.is_partner_admin:
        return
    if deal.submitted_by_id != user.pk:
        raise PermissionDenied(_("Only the person who registered this deal or a partner admin can change it."))


# --- recipients ---------------------------------------------------------------------------


def partner_recipients(deal) -> list[User]:
    """The registering user and the partner's admins (active ones, once each)."""
    users = list(
        User.objects.filter(is_active=True, partner_id=deal.partner_id, role=Role.PARTNER_ADMIN).order_by("pk")
    )
    submitter = deal.submitted_by
    if submitter.is_active and submitter.is_partner_user and all(u.pk != submitter.pk for u in users):
        users.insert(0, submitter)
    return users


def first_channel_lead() -> User | None:
    return User.objects.filter(is_active=True, role=Role.CHANNEL_LEAD).order_by("pk").first()


def reviewers_for(partner) -> list[User]:
    """Who reviews a partner's registrations: its channel manager, else a channel lead."""
    owner = partner.owner
    if owner is not None and owner.is_active:
        return [owner]
    lead = first_channel_lead()
    return [lead] if lead else []


def lead_of(manager) -> User | None:
    """Where a manager's escalations go: the lead they report to, else any channel lead."""
    if manager is not None and manager.reports_to_id:
        lead = manager.reports_to
        if lead.is_active:
            return lead
    return first_channel_lead()


# --- notifications ------------------------------------------------------------------------


def object_url(namespace: str, name: str, public_id) -> str:
    """Path of a deal/conflict page for a notification link (staff:deal_detail, cabinet:deal_detail,
    staff:conflict_detail, staff:extension_queue). A missing route is a bug: it raises."""
    if public_id is None:
        return reverse(f"{namespace}:{name}")
    return reverse(f"{namespace}:{name}", kwargs={"public_id": public_id})


def notify(
    users: Iterable[User],
    *,
    kind: str,
    key: str,
    title,
    body="",
    params: dict | None = None,
    url: str = "",
) -> int:
    """Send one notification per user, rendered in the user's language, once per `key`.

    `title`/`body` are gettext_lazy templates with %(name)s placeholders; `params` fills them.
    PARTNER-FACING CALLERS: never put the other partner's name, deal or value in `params`.
    """
    sent = 0
    params = params or {}
    seen = set()
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        with translation.override(user.language or settings.LANGUAGE_CODE):
            rendered_title = str(title) % params
            rendered_body = (str(body) % params) if body else ""
        if notification_send(
            user=user, kind=kind, title=rendered_title, body=rendered_body, url=url, dedupe_key=key[:200]
        ):
            sent += 1
    return sent
