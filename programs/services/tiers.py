"""Writes of the tier engine: the evaluation (set-based, chunked, safe to run twice) and the
staff actions (approve/reject a pending change, lock/unlock, set by hand).

Rules (PRODUCT §2.2): a partner qualifies for the highest tier whose thresholds it meets.
Promotion applies at once. A partner whose numbers fall below its tier is *at risk* for
TIER_DEMOTION_NOTICE_DAYS (told once what it lacks) and is demoted only when the notice ends
and it still falls short; meeting its tier again during the notice clears the risk. With
TIER_CHANGES_NEED_APPROVAL a promotion or demotion waits as a pending change for a manager.
A locked partner keeps its tier whatever its numbers (its metrics are still recorded).

Running the evaluation twice with the same data changes nothing the second time: every
decision compares the stored state with the computed one and writes only differences, so no
history, audit row or notification is written twice.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners.models import Partner, PartnerStatus, Tier
from partners.services import partner_set_tier
from prm.audit import audit_build, audit_record
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import AuditLog
from prm.money import RateTable
from programs.models import ChangeKind, ChangeStatus, PartnerTierStatus, TierChange
from programs.selectors.tiers import TierMetrics, tier_list, tier_metrics, tier_qualify, tier_window

__all__ = [
    "EvaluationSummary",
    "tier_change_approve",
    "tier_change_reject",
    "tier_lock",
    "tier_set_manual",
    "tier_unlock",
    "tiers_evaluate",
]

# Partners the engine evaluates: those in the programme (not prospects, applicants, terminated).
EVALUATED_STATUSES = (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED)
CHUNK_SIZE = 2000


@dataclass
class EvaluationSummary:
    evaluated: int = 0
    promoted: int = 0
    demoted: int = 0
    at_risk: int = 0
    recovered: int = 0
    pending: int = 0
    unchanged: int = 0
    errors: dict[int, str] = field(default_factory=dict)
    change_ids: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.promoted + self.demoted + self.at_risk + self.recovered + self.pending

    def as_dict(self) -> dict:
        return {
            "evaluated": self.evaluated,
            "promoted": self.promoted,
            "demoted": self.demoted,
            "at_risk": self.at_risk,
            "recovered": self.recovered,
            "pending_approval": self.pending,
            "unchanged": self.unchanged,
            "errors": {str(k): v for k, v in self.errors.items()},
        }


def _rank(tier: Tier | None) -> int:
    return tier.rank if tier is not None else -1


def _target_key(tier: Tier | None) -> str:
    return str(tier.pk) if tier is not None else "none"


def _require_staff(actor):
    if actor is None or not getattr(actor, "is_vendor_staff", False):
        raise PermissionDenied(_("Only vendor staff may do this."))


def _notify_on_commit(change_ids: list[int]) -> None:
    if change_ids:
        from programs.tasks_tiers import tier_change_notify

        ids = list(change_ids)
        transaction.on_commit(lambda: tier_change_notify.delay(ids))


def tiers_evaluate(
    *, partner_ids=None, now: datetime.datetime | None = None, actor=None, notify: bool = True
) -> EvaluationSummary:
    """Evaluate the tiers of `partner_ids` (default: every partner in the programme).

    Works in chunks of CHUNK_SIZE partners, one transaction each (rows locked FOR UPDATE), so a
    crash loses at most one chunk and a rerun finishes the job. Metrics come from a few
    aggregate queries per chunk (programs.selectors.tiers.tier_metrics). `notify=False` (demo
    replays of past months) records everything but queues no notification; the applied
    changes' ids are in the summary for the caller to notify."""
    now = now or timezone.now()
    qs = Partner.objects.filter(status__in=EVALUATED_STATUSES)
    if partner_ids is not None:
        qs = qs.filter(pk__in=list(partner_ids))
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    tiers = tier_list()
    rates = RateTable.load(until=tier_window(now)[1])
    summary = EvaluationSummary()
    for i in range(0, len(ids), CHUNK_SIZE):
        _evaluate_chunk(
            ids[i : i + CHUNK_SIZE], now=now, actor=actor, tiers=tiers, rates=rates, summary=summary, notify=notify
        )
    return summary


@transaction.atomic
def _evaluate_chunk(ids, *, now, actor, tiers, rates, summary: EvaluationSummary, notify: bool) -> None:
    today = timezone.localdate(now)
    cfg = settings.PRM
    approval = cfg["TIER_CHANGES_NEED_APPROVAL"]
    notice = datetime.timedelta(days=cfg["TIER_DEMOTION_NOTICE_DAYS"])
    tier_by_id = {t.pk: t for t in tiers}

    partners = {
        p.pk: p
        for p in Partner.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .only("pk", "name", "tier_id", "tier_since")
    }
    existing = set(PartnerTierStatus.objects.filter(partner_id__in=ids).values_list("partner_id", flat=True))
    missing = [PartnerTierStatus(partner_id=pid) for pid in partners if pid not in existing]
    if missing:
        PartnerTierStatus.objects.bulk_create(missing, ignore_conflicts=True)
    statuses = {
        s.partner_id: s
        for s in PartnerTierStatus.objects.select_for_update(of=("self",))
        .select_related("pending_change")
        .filter(partner_id__in=ids)
    }
    metrics, errors = tier_metrics(list(partners), now=now, rates=rates)
    summary.errors.update(errors)

    new_changes: list[TierChange] = []
    pending_for: dict[int, TierChange] = {}  # partner id → its new pending change
    cancel_ids: list[int] = []
    moves: dict[int | None, list[int]] = defaultdict(list)  # target tier id → partner ids
    audits: list[AuditLog] = []
    dirty: dict[int, set[str]] = defaultdict(set)

    def record(pid, kind, frm, to, m, status=ChangeStatus.APPLIED, reason=""):
        change = TierChange(
            partner_id=pid,
            kind=kind,
            from_tier_id=frm.pk if frm else None,
            to_tier_id=to.pk if to else None,
            metrics=m,
            reason=reason,
            status=status,
            created_at=now,
        )
        new_changes.append(change)
        return change

    def set_(st, **values):
        for name, value in values.items():
            if getattr(st, name) != value:
                setattr(st, name, value)
                dirty[st.partner_id].add(name)

    def clear_risk(st):
        set_(st, at_risk_since=None, at_risk_tier_id=None, demotion_due_on=None)

    def cancel_pending(st):
        if st.pending_change_id:
            cancel_ids.append(st.pending_change_id)
            set_(st, pending_change_id=None)

    def propose(st, pid, kind, cur, q, m):
        """Apply a promotion/demotion, or (approval on) make it the partner's pending change."""
        if approval:
            pending = st.pending_change
            if pending is not None and pending.to_tier_id == (q.pk if q else None) and pending.kind == kind:
                # Already waiting for a manager: nothing new to propose.
                return False
            cancel_pending(st)
            pending_for[pid] = record(pid, kind, cur, q, m, status=ChangeStatus.PENDING)
            summary.pending += 1
            return True
        cancel_pending(st)
        record(pid, kind, cur, q, m)
        moves[q.pk if q else None].append(pid)
        audits.append(
            audit_build(
                actor=actor,
                action="partner.set_tier",
                instance=partners[pid],
                before={"tier_id": cur.pk if cur else None},
                after={"tier_id": q.pk if q else None},
                reason=_("Tier evaluation: %(kind)s") % {"kind": ChangeKind(kind).label},
            )
        )
        if kind == ChangeKind.PROMOTION:
            summary.promoted += 1
        else:
            summary.demoted += 1
        return True

    for pid, partner in partners.items():
        summary.evaluated += 1
        if pid in errors:
            continue
        st = statuses[pid]
        m = metrics[pid]
        mj = m.as_json()
        q = tier_qualify(m, tiers)
        cur = tier_by_id.get(partner.tier_id)
        set_(st, last_metrics=mj, qualified_tier_id=q.pk if q else None)
        key = _target_key(q)
        if st.rejected_target and st.rejected_target != key:
            set_(st, rejected_target="")
        changed = False
        if st.locked or st.rejected_target == key:
            pass
        elif _rank(q) > _rank(cur):
            clear_risk(st)
            changed = propose(st, pid, ChangeKind.PROMOTION, cur, q, mj)
        elif _rank(q) == _rank(cur):
            cancel_pending(st)
            if st.at_risk_since is not None:
                clear_risk(st)
                record(pid, ChangeKind.RECOVERED, cur, cur, mj)
                summary.recovered += 1
                changed = True
        elif st.at_risk_since is None:
            cancel_pending(st)
            set_(st, at_risk_since=now, at_risk_tier_id=q.pk if q else None, demotion_due_on=today + notice)
            record(pid, ChangeKind.AT_RISK, cur, q, mj)
            summary.at_risk += 1
            changed = True
        else:
            set_(st, at_risk_tier_id=q.pk if q else None)
            if today >= st.demotion_due_on:
                changed = propose(st, pid, ChangeKind.DEMOTION, cur, q, mj)
                if not approval:
                    clear_risk(st)
        if not changed:
            summary.unchanged += 1

    if cancel_ids:
        TierChange.objects.filter(pk__in=cancel_ids, status=ChangeStatus.PENDING).update(
            status=ChangeStatus.CANCELLED, decided_at=now, updated_at=now
        )
    if new_changes:
        TierChange.objects.bulk_create(new_changes)
        summary.change_ids.extend(
            c.pk for c in new_changes if c.status == ChangeStatus.APPLIED and c.kind != ChangeKind.RECOVERED
        )
    for pid, change in pending_for.items():
        set_(statuses[pid], pending_change_id=change.pk)
    for target, pids in moves.items():
        Partner.objects.filter(pk__in=pids).update(tier_id=target, tier_since=today, updated_at=now)
    if audits:
        for entry in audits:
            entry.created_at = now  # the evaluation's moment (replays of past days keep their dates)
        AuditLog.objects.bulk_create(audits)
    # Field names, not attnames, for bulk_update ("at_risk_tier_id" → "at_risk_tier").
    changed_fields = {n.removesuffix("_id") for names in dirty.values() for n in names}
    if changed_fields:
        rows = [statuses[pid] for pid in dirty]
        for st in rows:
            st.updated_at = now
        PartnerTierStatus.objects.bulk_update(rows, [*sorted(changed_fields), "updated_at"], batch_size=500)
    PartnerTierStatus.objects.filter(partner_id__in=list(partners)).update(last_evaluated_at=now)
    if notify:
        _notify_on_commit([c.pk for c in new_changes if c.status == ChangeStatus.APPLIED and c.kind != "recovered"])


# --- Staff actions ------------------------------------------------------------------------------


def _status_for_update(partner: Partner) -> PartnerTierStatus:
    PartnerTierStatus.objects.get_or_create(partner=partner)
    return (
        PartnerTierStatus.objects.select_for_update(of=("self",)).select_related("pending_change").get(partner=partner)
    )


def _reason(reason: str, field_name: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give a reason."), fields={field_name: [_("A reason is required.")]})
    return reason


def _cancel_pending(st: PartnerTierStatus, now) -> None:
    if st.pending_change_id:
        TierChange.objects.filter(pk=st.pending_change_id, status=ChangeStatus.PENDING).update(
            status=ChangeStatus.CANCELLED, decided_at=now, updated_at=now
        )
        st.pending_change = None


def _save_status(st: PartnerTierStatus, fields: list[str]) -> None:
    st.full_clean(exclude=["partner", "pending_change"])
    st.save(update_fields=[*fields, "updated_at"])


@transaction.atomic
def tier_change_approve(*, actor, change: TierChange, reason: str = "") -> TierChange:
    """Apply a pending promotion/demotion (manager approval)."""
    _require_staff(actor)
    change = TierChange.objects.select_for_update(of=("self",)).select_related("partner", "to_tier").get(pk=change.pk)
    if change.status != ChangeStatus.PENDING:
        raise StateError(_("This change is no longer awaiting approval."))
    now = timezone.now()
    st = _status_for_update(change.partner)
    partner_set_tier(
        actor=actor,
        partner=change.partner,
        tier=change.to_tier,
        reason=reason.strip() or _("Approved tier change: %(kind)s") % {"kind": change.get_kind_display()},
    )
    change.status = ChangeStatus.APPLIED
    change.decided_by = actor
    change.decided_at = now
    change.decision_reason = reason.strip()
    change.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"])
    st.pending_change = None
    st.at_risk_since = st.at_risk_tier = st.demotion_due_on = None
    st.rejected_target = ""
    _save_status(st, ["pending_change", "at_risk_since", "at_risk_tier", "demotion_due_on", "rejected_target"])
    _notify_on_commit([change.pk])
    return change


@transaction.atomic
def tier_change_reject(*, actor, change: TierChange, reason: str) -> TierChange:
    """Keep the partner's tier; the engine will not propose this target again while the
    partner's numbers still earn the same tier."""
    _require_staff(actor)
    reason = _reason(reason)
    change = TierChange.objects.select_for_update(of=("self",)).select_related("partner").get(pk=change.pk)
    if change.status != ChangeStatus.PENDING:
        raise StateError(_("This change is no longer awaiting approval."))
    now = timezone.now()
    st = _status_for_update(change.partner)
    change.status = ChangeStatus.REJECTED
    change.decided_by = actor
    change.decided_at = now
    change.decision_reason = reason
    change.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"])
    st.pending_change = None
    st.at_risk_since = st.at_risk_tier = st.demotion_due_on = None
    st.rejected_target = str(change.to_tier_id) if change.to_tier_id else "none"
    _save_status(st, ["pending_change", "at_risk_since", "at_risk_tier", "demotion_due_on", "rejected_target"])
    audit_record(
        actor=actor,
        action="tier.reject_change",
        instance=change,
        before={"status": ChangeStatus.PENDING},
        after={"status": ChangeStatus.REJECTED},
        reason=reason,
    )
    return change


@transaction.atomic
def tier_lock(*, actor, partner: Partner, reason: str) -> PartnerTierStatus:
    """Keep the partner's current tier whatever its numbers, until unlocked."""
    _require_staff(actor)
    reason = _reason(reason)
    partner = Partner.objects.select_for_update(of=("self",)).select_related("tier").get(pk=partner.pk)
    st = _status_for_update(partner)
    if st.locked:
        raise StateError(_("The tier is already locked."))
    now = timezone.now()
    _cancel_pending(st, now)
    st.locked, st.lock_reason, st.locked_by, st.locked_at = True, reason, actor, now
    st.at_risk_since = st.at_risk_tier = st.demotion_due_on = None
    st.rejected_target = ""
    _save_status(
        st,
        ["locked", "lock_reason", "locked_by", "locked_at", "pending_change", "at_risk_since", "at_risk_tier"]
        + ["demotion_due_on", "rejected_target"],
    )
    change = TierChange.objects.create(
        partner=partner,
        kind=ChangeKind.LOCK,
        from_tier=partner.tier,
        to_tier=partner.tier,
        metrics=st.last_metrics,
        reason=reason,
        actor=actor,
    )
    audit_record(actor=actor, action="tier.lock", instance=change, after={"tier_id": partner.tier_id}, reason=reason)
    return st


@transaction.atomic
def tier_unlock(*, actor, partner: Partner, reason: str) -> PartnerTierStatus:
    """Hand the partner back to the rules (the next evaluation decides)."""
    _require_staff(actor)
    reason = _reason(reason)
    partner = Partner.objects.select_for_update(of=("self",)).select_related("tier").get(pk=partner.pk)
    st = _status_for_update(partner)
    if not st.locked:
        raise StateError(_("The tier is not locked."))
    st.locked, st.lock_reason, st.locked_by, st.locked_at = False, "", None, None
    _save_status(st, ["locked", "lock_reason", "locked_by", "locked_at"])
    change = TierChange.objects.create(
        partner=partner,
        kind=ChangeKind.UNLOCK,
        from_tier=partner.tier,
        to_tier=partner.tier,
        metrics=st.last_metrics,
        reason=reason,
        actor=actor,
    )
    audit_record(actor=actor, action="tier.unlock", instance=change, reason=reason)
    return st


@transaction.atomic
def tier_set_manual(*, actor, partner: Partner, tier: Tier | None, reason: str) -> TierChange | None:
    """Set the tier by hand (through partners.services.partner_set_tier), recorded in the tier
    history. The rules still apply at the next evaluation unless the tier is locked."""
    _require_staff(actor)
    reason = _reason(reason)
    partner = Partner.objects.select_for_update(of=("self",)).select_related("tier").get(pk=partner.pk)
    if partner.tier_id == (tier.pk if tier else None):
        return None
    st = _status_for_update(partner)
    previous = partner.tier
    partner_set_tier(actor=actor, partner=partner, tier=tier, reason=reason)
    _cancel_pending(st, timezone.now())
    st.at_risk_since = st.at_risk_tier = st.demotion_due_on = None
    st.rejected_target = ""
    _save_status(st, ["pending_change", "at_risk_since", "at_risk_tier", "demotion_due_on", "rejected_target"])
    change = TierChange.objects.create(
        partner=partner,
        kind=ChangeKind.MANUAL,
        from_tier=previous,
        to_tier=tier,
        metrics=st.last_metrics,
        reason=reason,
        actor=actor,
    )
    _notify_on_commit([change.pk])
    return change


def metrics_of(change: TierChange) -> TierMetrics:
    return TierMetrics.from_json(change.metrics)


# --- Notifications (sent by programs.tasks_tiers.tier_change_notify after commit) -----------------

_TITLES = {
    ChangeKind.PROMOTION: gettext_lazy("Your company reached the %(tier)s tier"),
    ChangeKind.DEMOTION: gettext_lazy("Your company's tier changed to %(tier)s"),
    ChangeKind.MANUAL: gettext_lazy("Your company's tier changed to %(tier)s"),
    ChangeKind.AT_RISK: gettext_lazy("Your %(current)s tier is at risk"),
}
_BODIES = {
    ChangeKind.AT_RISK: gettext_lazy(
        "Over the last %(days)s days your company does not meet the %(current)s tier. "
        "Unless it does by %(due)s, it will move to %(tier)s. Still needed: %(lacks)s."
    ),
}


class _Lacks:
    """What a partner lacks for a tier, rendered in the reader's language when formatted."""

    def __init__(self, metrics: TierMetrics, tier: Tier | None):
        self.metrics, self.tier = metrics, tier

    def __str__(self):
        from programs.selectors.tiers import gap_text, tier_gaps

        if self.tier is None:
            return ""
        return ", ".join(gap_text(g) for g in tier_gaps(self.metrics, self.tier) if not g.met)


def tier_change_send_notifications(*, change_ids: list[int]) -> int:
    """Tell the partner's admins and its channel manager about applied promotions, demotions,
    manual changes and at-risk notices. Once per change (dedupe key), so safe to run twice."""
    from deals.services._common import notify
    from prm.models import Role, User

    changes = (
        TierChange.objects.filter(pk__in=change_ids, status=ChangeStatus.APPLIED, kind__in=list(_TITLES))
        .select_related("partner", "partner__owner", "partner__tier_status", "from_tier", "to_tier")
        .order_by("pk")
    )
    sent = 0
    for change in changes:
        partner = change.partner
        admins = list(User.objects.filter(partner=partner, role=Role.PARTNER_ADMIN, is_active=True))
        status = getattr(partner, "tier_status", None)
        due = status.demotion_due_on if status and status.demotion_due_on else None
        params = {
            "tier": change.to_tier.name if change.to_tier else _("no tier"),
            "current": change.from_tier.name if change.from_tier else "",
            "partner": partner.name,
            "days": change.metrics.get("window_days", settings.PRM["TIER_WINDOW_DAYS"]),
            "due": due.isoformat() if due else "",
            "lacks": _Lacks(TierMetrics.from_json(change.metrics), change.from_tier),
        }
        key = f"tier-change:{change.pk}"
        title, body = _TITLES[change.kind], _BODIES.get(change.kind, "")
        sent += notify(
            admins,
            kind=f"tier.{change.kind}",
            key=key,
            title=title,
            body=body,
            params=params,
            url=reverse("cabinet:tier_progress"),
        )
        if partner.owner_id:
            staff_title = gettext_lazy("%(partner)s: tier %(kind)s")
            sent += notify(
                [partner.owner],
                kind=f"tier.{change.kind}",
                key=key,
                title=staff_title,
                body=title,
                params={**params, "kind": change.get_kind_display()},
                url=reverse("staff:partner_detail", kwargs={"public_id": partner.public_id}),
            )
    return sent
