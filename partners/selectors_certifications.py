"""Reads of certifications, and who may see what: staff every partner's; a partner user only
its own people's (another partner's certificate is a 404)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from partners.models import Certification, Partner
from partners.selectors import get_or_404, scope_to_partner


def certification_list_for_user(*, user, filters: dict | None = None) -> QuerySet[Certification]:
    """Certificates `user` may see, soonest expiry first (never-expiring last).

    filters (optional): partner (Partner or id; staff), contact (Contact or id), status
    ("valid", "expired", "expiring"), expiring_within (days: expires from today to today+N),
    q (course or person name contains), on (date for status; default today)."""
    filters = filters or {}
    today = filters.get("on") or timezone.localdate()
    qs = scope_to_partner(
        Certification.objects.select_related("contact", "contact__partner"),
        user=user,
        partner_field="contact__partner_id",
    )
    if filters.get("partner") and user.is_vendor_staff:
        qs = qs.filter(contact__partner_id=getattr(filters["partner"], "pk", filters["partner"]))
    if filters.get("contact"):
        qs = qs.filter(contact_id=getattr(filters["contact"], "pk", filters["contact"]))
    status = filters.get("status")
    if status == "valid":
        qs = qs.filter(Q(expires_on__isnull=True) | Q(expires_on__gt=today))
    elif status == "expired":
        qs = qs.filter(expires_on__lte=today)
    if filters.get("expiring_within") is not None or status == "expiring":
        days = int(filters.get("expiring_within") or 30)
        qs = qs.filter(expires_on__gt=today, expires_on__lte=today + dt.timedelta(days=days))
    if filters.get("q"):
        q = filters["q"].strip()
        qs = qs.filter(Q(course__icontains=q) | Q(contact__full_name__icontains=q))
    return qs.order_by("expires_on", "contact__full_name", "pk")


def certification_get_for_user(*, user, public_id) -> Certification:
    qs = scope_to_partner(
        Certification.objects.select_related("contact", "contact__partner"),
        user=user,
        partner_field="contact__partner_id",
    )
    return get_or_404(qs, public_id=public_id)


def certification_is_valid(cert: Certification, *, on: dt.date | None = None) -> bool:
    """Unexpired on `on`: a certificate is valid up to the day before `expires_on`."""
    on = on or timezone.localdate()
    return cert.earned_on <= on and (cert.expires_on is None or cert.expires_on > on)


def certified_people_count(*, partner: Partner, on: dt.date | None = None) -> int:
    """How many of the partner's active people hold at least one unexpired certificate on `on`."""
    on = on or timezone.localdate()
    return (
        Certification.objects.filter(contact__partner=partner, contact__is_active=True, earned_on__lte=on)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gt=on))
        .values("contact_id")
        .distinct()
        .count()
    )


def valid_certification_count(*, partner: Partner, on: dt.date | None = None) -> int:
    """How many unexpired certificates the partner's people hold on `on` (what tiers count)."""
    on = on or timezone.localdate()
    return (
        Certification.objects.filter(contact__partner=partner, earned_on__lte=on)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gt=on))
        .count()
    )
