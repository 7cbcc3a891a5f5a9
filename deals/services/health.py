"""Partner health (0–100, green/yellow/red) and dormancy, computed nightly for every partner in
the channel, set-based: a fixed number of queries whatever the number of partners.

Components (each scored 0–100; weights in settings.PRM["HEALTH_WEIGHTS"], normalised):
- revenue_trend: revenue of the last 90 days against the 90 days before (steady or growing
  = 100, halved = 50, stopped = 0; no revenue in either = 0);
- pipeline: weighted open pipeline against a quarter of the last 12 months' revenue (one
  quarter of cover = 100); without revenue history, any open pipeline = 100;
- engagement: the mean of the engagement signals (`engagement_signals`): registrations
  submitted in the last 90 days (3 or more = 100) and the share of the partner's active users
  who logged in within 30 days; the leads app adds lead acceptance at merge;
- enablement: unexpired certifications of the partner's active people against the tier's
  `min_certified_people` (2 when the tier asks for none or there is no tier);
- relationship: days since the last interaction, 0 days = 100 falling linearly to 0 at
  HEALTH_RELATIONSHIP_STALE_DAYS.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from deals.models import ACTIVE_STATUSES, DealRegistration, HealthBand, PartnerHealth
from partners.models import Certification, Interaction, Partner, PartnerStatus
from prm.models import User
from prm.money import RateTable
from prm.notifications import notification_send

HEALTH_STATUSES = (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED)


def band_for(score: int) -> str:
    if score >= 80:
        return HealthBand.GREEN
    if score >= 50:
        return HealthBand.YELLOW
    return HealthBand.RED


def _clamp(value: float) -> int:
    return int(round(max(0.0, min(100.0, value))))


def combine(components: dict[str, dict], weights: dict[str, float]) -> int:
    """Weighted mean of the component scores (weights normalised over the components present)."""
    total_weight = sum(weights.get(name, 0) for name in components)
    if total_weight <= 0:
        return 0
    return _clamp(sum(c["score"] * weights.get(name, 0) for name, c in components.items()) / total_weight)


# --- engagement: the signals (extend here) ---------------------------------------------------


def engagement_lead_acceptance(partner_ids: list[int], *, today: dt.date) -> dict[int, int]:
    """Lead acceptance score (0–100) per partner id: offers accepted / offers answered or timed
    out in the last 90 days × 100. Partners never offered a lead (or with offers still open)
    stay absent, so they are not penalised. One query."""
    from deals.models import LeadOffer, LeadOfferStatus

    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=90), dt.time.min))
    rows = (
        LeadOffer.objects.filter(partner_id__in=partner_ids, offered_at__gte=since)
        .exclude(status__in=[LeadOfferStatus.OFFERED, LeadOfferStatus.WITHDRAWN])
        .values("partner_id")
        .annotate(n=Count("pk"), accepted=Count("pk", filter=Q(status=LeadOfferStatus.ACCEPTED)))
        .order_by()
    )
    return {row["partner_id"]: round(100 * row["accepted"] / row["n"]) for row in rows if row["n"]}


def engagement_signals(partner_ids: list[int], *, today: dt.date) -> dict[int, dict[str, dict]]:
    """{partner_id: {signal: {"value", "score"}}} for the engagement component. Add a signal by
    adding a block here; the component score is the mean of the signals present."""
    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=90), dt.time.min))
    login_since = timezone.now() - dt.timedelta(days=30)
    out: dict[int, dict[str, dict]] = {pid: {} for pid in partner_ids}
    regs = dict(
        DealRegistration.objects.filter(partner_id__in=partner_ids, submitted_at__gte=since)
        .values("partner_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("partner_id", "n")
    )
    for pid in partner_ids:
        n = regs.get(pid, 0)
        out[pid]["registrations_90d"] = {"value": n, "score": _clamp(n * 100 / 3)}
    users = (
        User.objects.filter(partner_id__in=partner_ids, is_active=True)
        .values("partner_id")
        .annotate(n=Count("pk"), recent=Count("pk", filter=Q(last_login__gte=login_since)))
        .order_by()
    )
    for row in users:
        share = row["recent"] / row["n"] if row["n"] else 0
        out[row["partner_id"]]["logins_30d"] = {"value": row["recent"], "score": _clamp(share * 100)}
    for pid, score in engagement_lead_acceptance(partner_ids, today=today).items():
        out.setdefault(pid, {})["lead_acceptance"] = {"value": score, "score": _clamp(score)}
    return out


# --- the other components --------------------------------------------------------------------


def _revenue(partner_ids, since: dt.date, until: dt.date) -> dict[int, Decimal]:
    from deals.dashboard import revenue_by_partner

    return revenue_by_partner(partners=Partner.objects.filter(pk__in=partner_ids), since=since, until=until)


def _weighted_pipeline(partner_ids, today: dt.date) -> dict[int, Decimal]:
    rates = RateTable.load(until=today)
    out: dict[int, Decimal] = defaultdict(Decimal)
    for row in (
        DealRegistration.objects.filter(partner_id__in=partner_ids, status__in=ACTIVE_STATUSES)
        .values("partner_id", "currency")
        .annotate(weighted=Sum(F("value") * F("probability") / 100))
        .order_by()
    ):
        out[row["partner_id"]] += rates.to_base(row["weighted"], row["currency"], today)
    return out


def partner_health_components(partner_ids: list[int], *, today: dt.date | None = None) -> dict[int, dict]:
    """{partner_id: {component: {"value", "score"}}} — the breakdown before weights."""
    today = today or timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    recent = _revenue(partner_ids, today - dt.timedelta(days=89), tomorrow)
    previous = _revenue(partner_ids, today - dt.timedelta(days=179), today - dt.timedelta(days=89))
    year = _revenue(partner_ids, today - dt.timedelta(days=364), tomorrow)
    pipeline = _weighted_pipeline(partner_ids, today)
    engagement = engagement_signals(partner_ids, today=today)
    certified = dict(
        Certification.objects.filter(contact__partner_id__in=partner_ids, contact__is_active=True)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))
        .values("contact__partner_id")
        .annotate(n=Count("contact_id", distinct=True))
        .order_by()
        .values_list("contact__partner_id", "n")
    )
    required = dict(Partner.objects.filter(pk__in=partner_ids).values_list("pk", "tier__min_certified_people"))
    last_touch = dict(
        Interaction.objects.filter(partner_id__in=partner_ids)
        .values("partner_id")
        .annotate(last=Max("occurred_at"))
        .order_by()
        .values_list("partner_id", "last")
    )
    stale_days = settings.PRM["HEALTH_RELATIONSHIP_STALE_DAYS"]
    out = {}
    for pid in partner_ids:
        r_now, r_before = recent.get(pid, Decimal(0)), previous.get(pid, Decimal(0))
        if r_before > 0:
            trend = {"value": round(float(r_now / r_before), 3), "score": _clamp(float(r_now / r_before) * 100)}
        else:
            trend = {"value": None, "score": 100 if r_now > 0 else 0}
        cover_base = year.get(pid, Decimal(0)) / 4
        weighted = pipeline.get(pid, Decimal(0))
        if cover_base > 0:
            pipe = {
                "value": round(float(weighted / cover_base), 3),
                "score": _clamp(float(weighted / cover_base) * 100),
            }
        else:
            pipe = {"value": None, "score": 100 if weighted > 0 else 0}
        signals = engagement.get(pid, {})
        engage = {
            "value": {name: s["value"] for name, s in signals.items()},
            "score": _clamp(sum(s["score"] for s in signals.values()) / len(signals)) if signals else 0,
        }
        need = required.get(pid) or 2
        have = certified.get(pid, 0)
        enable = {"value": have, "score": _clamp(have * 100 / need)}
        touched = last_touch.get(pid)
        if touched is None:
            relation = {"value": None, "score": 0}
        else:
            days = max((today - timezone.localtime(touched).date()).days, 0)
            relation = {"value": days, "score": _clamp(100 * (1 - days / stale_days))}
        out[pid] = {
            "revenue_trend": trend,
            "pipeline": pipe,
            "engagement": engage,
            "enablement": enable,
            "relationship": relation,
        }
    return out


def partner_health_compute(*, today: dt.date | None = None, chunk_size: int = 2000) -> int:
    """Score every partner in the channel and upsert PartnerHealth (one row per partner), in
    chunks of `chunk_size` partners (a bounded number of queries per chunk). Safe to run twice:
    the same inputs give the same rows. Returns the number of partners scored."""
    today = today or timezone.localdate()
    now = timezone.now()
    weights = settings.PRM["HEALTH_WEIGHTS"]
    total_weight = sum(weights.values()) or 1
    ids = list(Partner.objects.filter(status__in=HEALTH_STATUSES).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        components = partner_health_components(chunk, today=today)
        rows = []
        for pid in chunk:
            parts = components[pid]
            score = combine(parts, weights)
            breakdown = {
                name: {**part, "weight": round(weights.get(name, 0) / total_weight, 4)} for name, part in parts.items()
            }
            rows.append(
                PartnerHealth(partner_id=pid, score=score, band=band_for(score), breakdown=breakdown, computed_at=now)
            )
        with transaction.atomic():
            PartnerHealth.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["partner"],
                update_fields=["score", "band", "breakdown", "computed_at", "updated_at"],
            )
    return len(ids)


# --- dormancy --------------------------------------------------------------------------------

# The latest activity per partner: registrations submitted, sales records, interactions and
# the partner users' log-ins.
_LAST_ACTIVITY_SQL = """
    SELECT partner_id, max(at) AS last_at FROM (
        SELECT partner_id, max(submitted_at) AS at FROM deals_dealregistration
         WHERE submitted_at IS NOT NULL GROUP BY partner_id
        UNION ALL
        SELECT partner_id, max(occurred_on)::timestamptz FROM deals_salesrecord GROUP BY partner_id
        UNION ALL
        SELECT partner_id, max(occurred_at) FROM partners_interaction GROUP BY partner_id
        UNION ALL
        SELECT partner_id, max(last_login) FROM prm_user
         WHERE partner_id IS NOT NULL AND last_login IS NOT NULL GROUP BY partner_id
    ) a GROUP BY partner_id
"""

_DORMANCY_UPDATE_SQL = """
    WITH act AS ({last_activity}),
    computed AS (
        SELECT p.id, act.last_at,
               (p.status = 'active' AND COALESCE(act.last_at, p.created_at) < %s) AS dormant
          FROM partners_partner p LEFT JOIN act ON act.partner_id = p.id
    ),
    turned AS (
        SELECT p.id FROM partners_partner p JOIN computed c ON c.id = p.id
         WHERE c.dormant AND NOT p.is_dormant
    ),
    updated AS (
        UPDATE partners_partner p SET last_activity_at = c.last_at, is_dormant = c.dormant
          FROM computed c
         WHERE c.id = p.id AND (p.last_activity_at IS DISTINCT FROM c.last_at OR p.is_dormant <> c.dormant)
        RETURNING p.id
    )
    SELECT id FROM turned
"""


def partner_dormancy_compute(*, now: dt.datetime | None = None) -> list[int]:
    """Set every partner's `last_activity_at` and `is_dormant` (an active partner with no
    activity for DORMANT_AFTER_DAYS — counted from joining when it never did anything) in one
    statement, then tell each newly dormant partner's channel manager once (dedupe key per
    partner and last activity). Returns the ids of the partners that turned dormant."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.PRM["DORMANT_AFTER_DAYS"])
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_DORMANCY_UPDATE_SQL.format(last_activity=_LAST_ACTIVITY_SQL), [cutoff])
            turned = [row[0] for row in cursor.fetchall()]
        for partner in Partner.objects.filter(pk__in=turned, owner__isnull=False).select_related("owner"):
            last = partner.last_activity_at.date().isoformat() if partner.last_activity_at else "never"
            notification_send(
                user=partner.owner,
                kind="partner_dormant",
                title=_("%(partner)s has gone dormant") % {"partner": partner.name},
                body=_("No activity for %(days)s days (last activity: %(last)s). It is in your reactivation queue.")
                % {"days": settings.PRM["DORMANT_AFTER_DAYS"], "last": last},
                url=reverse("staff:partner_detail", args=[partner.public_id]),
                dedupe_key=f"dormant:{partner.pk}:{last}",
            )
    return turned
