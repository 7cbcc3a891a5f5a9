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
import json
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deals.services._common import require_max_length
from partners.models import Partner, PartnerStatus, Tier
from partners.services import partner_set_tier
from prm.audit import audit_build, audit_record
from prm.exceptions import ApplicationError, StateError
from prm.models import AuditLog
from prm.money import RateTable
from programs.models import TIER_REASON_MAX_LENGTH, ChangeKind, ChangeStatus, PartnerTierStatus, TierChange
from programs.selectors.tiers import TierMetrics, tier_list, tier_metrics, tier_qualify, tier_window

from ._access import require_staff_for_partner

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
# The status columns the evaluation reads and writes.
STATUS_FIELDS = (
    "id",
    "partner_id",
    "qualified_tier_id",
    "at_risk_since",
    "at_risk_tier_id",
    "demotion_due_on",
    "locked",
    "last_metrics",
    "pending_change_id",
    "rejected_target",
    "updated_at",
)
# A partner's state before its first evaluation.
NEW_STATUS = {
    "id": None,
    "qualified_tier_id": None,
    "at_risk_since": None,
    "at_risk_tier_id": None,
    "demotion_due_on": None,
    "locked": False,
    "last_metrics": {},
    "pending_change_id": None,
    "pending_change": None,
    "rejected_target": "",
    "updated_at": None,
}
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
    # Metrics first, for all partners at once (three aggregate queries); chunks then only lock
    # and write. The numbers come from deals, sales and certificates, not from the locked rows.
    metrics, errors = tier_metrics(ids if partner_ids is not None else None, now=now, rates=rates)
    summary = EvaluationSummary()
    for i in range(0, len(ids), CHUNK_SIZE):
        _evaluate_chunk(
            ids[i : i + CHUNK_SIZE],
            now=now,
            actor=actor,
            tiers=tiers,
            metrics=metrics,
            errors=errors,
            summary=summary,
            notify=notify,
        )
    return summary


@transaction.atomic
def _evaluate_chunk(ids, *, now, actor, tiers, metrics, errors, summary: EvaluationSummary, notify: bool) -> None:
    today = timezone.localdate(now)
    cfg = settings.PRM
    approval = cfg["TIER_CHANGES_NEED_APPROVAL"]
    notice = datetime.timedelta(days=cfg["TIER_DEMOTION_NOTICE_DAYS"])
    tier_by_id = {t.pk: t for t in tiers}

    # Plain rows, not model instances: thousands per chunk, and only a few fields are needed.
    partners, names = {}, {}
    for pid, tier_id, name in (
        Partner.objects.select_for_update(of=("self",)).filter(pk__in=ids).values_list("pk", "tier_id", "name")
    ):
        partners[pid], names[pid] = tier_id, name
    statuses = {}
    for row in (
        PartnerTierStatus.objects.select_for_update(of=("self",))
        .filter(partner_id__in=ids)
        .values(*STATUS_FIELDS, "pending_change__kind", "pending_change__to_tier_id")
    ):
        pending_kind, pending_to = row.pop("pending_change__kind"), row.pop("pending_change__to_tier_id")
        row["pending_change"] = SimpleNamespace(kind=pending_kind, to_tier_id=pending_to) if pending_kind else None
        statuses[row["partner_id"]] = SimpleNamespace(**row)
    for pid in partners:
        if pid not in statuses:  # first evaluation: created by the upsert in _write_statuses
            statuses[pid] = SimpleNamespace(**{**NEW_STATUS, "partner_id": pid})
    summary.errors.update({pid: errors[pid] for pid in partners if pid in errors})
    zero = TierMetrics()

    new_changes: list[dict] = []  # at most one per partner per evaluation
    pending_for: set[int] = set()  # partners whose new change awaits approval
    cancel_ids: list[int] = []
    moves: dict[int | None, list[int]] = defaultdict(list)  # target tier id → partner ids
    audits: list[AuditLog] = []
    dirty: dict[int, set[str]] = defaultdict(set)

    def record(pid, kind, frm, to, m, status=ChangeStatus.APPLIED):
        new_changes.append(
            {
                "partner_id": pid,
                "kind": str(kind),
                "from_tier_id": frm.pk if frm else None,
                "to_tier_id": to.pk if to else None,
                "metrics": m,
                "status": str(status),
            }
        )

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
            record(pid, kind, cur, q, m, status=ChangeStatus.PENDING)
            pending_for.add(pid)
            summary.pending += 1
            return True
        cancel_pending(st)
        record(pid, kind, cur, q, m)
        moves[q.pk if q else None].append(pid)
        audits.append(
            audit_build(
                actor=actor,
                action="partner.set_tier",
                instance=Partner(pk=pid, name=names.get(pid, "")),
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

    for pid in partners:
        summary.evaluated += 1
        if pid in errors:
            continue
        st = statuses[pid]
        m = metrics.get(pid, zero)
        mj = m.as_json()
        q = tier_qualify(m, tiers)
        cur = tier_by_id.get(partners[pid])
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
    change_ids = _insert_changes(new_changes, now=now, actor=actor)
    to_notify = [
        change_ids[c["partner_id"]]
        for c in new_changes
        if c["status"] == ChangeStatus.APPLIED and c["kind"] != ChangeKind.RECOVERED
    ]
    summary.change_ids.extend(to_notify)
    for pid in pending_for:
        set_(statuses[pid], pending_change_id=change_ids[pid])
    for target, pids in moves.items():
        Partner.objects.filter(pk__in=pids).update(tier_id=target, tier_since=today, updated_at=now)
    _insert_audits(audits, now=now)
    _write_statuses([st for st in statuses.values() if st.partner_id in dirty or st.id is None], now=now)
    # The others only record that they were looked at (a narrow update, no JSON to parse).
    clean = [st.id for st in statuses.values() if st.partner_id not in dirty and st.id is not None]
    if clean:
        PartnerTierStatus.objects.filter(pk__in=clean).update(last_evaluated_at=now)
    if notify:
        _notify_on_commit(to_notify)


def _unnest(sql_head: str, columns: dict[str, tuple[str, list]], sql_tail: str = "", extra_params=()) -> list:
    """Run `sql_head SELECT … FROM unnest(%s::type[], …) AS v(cols) sql_tail` with one array per
    column: thousands of rows in one statement, without Django's per-row, per-field SQL."""
    arrays = ", ".join(f"%s::{kind}[]" for kind, _values in columns.values())
    sql = f"{sql_head} FROM unnest({arrays}) AS v({', '.join(columns)}) {sql_tail}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*extra_params, *(values for _kind, values in columns.values())])
        return cursor.fetchall() if cursor.description else []


def _insert_changes(changes: list[dict], *, now, actor) -> dict[int, int]:
    """Insert the chunk's history rows; returns the new id by partner (one change per partner)."""
    if not changes:
        return {}
    actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
    columns = {
        "partner_id": ("bigint", [c["partner_id"] for c in changes]),
        "kind": ("text", [c["kind"] for c in changes]),
        "from_tier_id": ("bigint", [c["from_tier_id"] for c in changes]),
        "to_tier_id": ("bigint", [c["to_tier_id"] for c in changes]),
        "metrics": ("text", [json.dumps(c["metrics"]) for c in changes]),
        "status": ("text", [c["status"] for c in changes]),
    }
    table = TierChange._meta.db_table
    rows = _unnest(
        f"INSERT INTO {table} (created_at, updated_at, partner_id, kind, from_tier_id, to_tier_id, metrics, "  # noqa: S608
        "reason, actor_id, status, decision_reason) "
        "SELECT %s, %s, v.partner_id, v.kind, v.from_tier_id, v.to_tier_id, v.metrics::jsonb, '', %s, v.status, ''",
        columns,
        "RETURNING partner_id, id",
        extra_params=(now, now, actor_id),
    )
    return dict(rows)


def _insert_audits(entries: list[AuditLog], *, now) -> None:
    """Save audit rows built by prm.audit.audit_build (the one definition of their content), in
    one statement, dated at the evaluation's moment (replays of past days keep their dates)."""
    if not entries:
        return
    columns = {
        "actor_id": ("bigint", [e.actor_id for e in entries]),
        "action": ("text", [e.action for e in entries]),
        "object_type": ("text", [e.object_type for e in entries]),
        "object_id": ("text", [e.object_id for e in entries]),
        "object_repr": ("text", [e.object_repr for e in entries]),
        "partner_id": ("bigint", [e.partner_id for e in entries]),
        "before": ("text", [json.dumps(e.before) for e in entries]),
        "after": ("text", [json.dumps(e.after) for e in entries]),
        "reason": ("text", [e.reason for e in entries]),
    }
    _unnest(
        f"INSERT INTO {AuditLog._meta.db_table} (created_at, {', '.join(columns)}) "  # noqa: S608
        "SELECT %s, v.actor_id, v.action, v.object_type, v.object_id, v.object_repr, v.partner_id, "
        "v.before::jsonb, v.after::jsonb, v.reason",
        columns,
        extra_params=(now,),
    )


def _write_statuses(rows: list, *, now) -> None:
    """Upsert the chunk's new and changed status rows in one statement, with last_evaluated_at. (Django's bulk_update builds a
    CASE per row and field, which takes tens of seconds to compile for thousands of rows.)
    `locked` and the lock fields are never written here: only tier_lock/tier_unlock do."""
    if not rows:
        return
    columns = {
        "partner_id": ("bigint", [r.partner_id for r in rows]),
        "qualified_tier_id": ("bigint", [r.qualified_tier_id for r in rows]),
        "at_risk_since": ("timestamptz", [r.at_risk_since for r in rows]),
        "at_risk_tier_id": ("bigint", [r.at_risk_tier_id for r in rows]),
        "demotion_due_on": ("date", [r.demotion_due_on for r in rows]),
        "last_metrics": ("text", [json.dumps(r.last_metrics) for r in rows]),
        "pending_change_id": ("bigint", [r.pending_change_id for r in rows]),
        "rejected_target": ("text", [r.rejected_target for r in rows]),
        "updated_at": ("timestamptz", [now] * len(rows)),
    }
    updated = [name for name in columns if name != "partner_id"]
    table = PartnerTierStatus._meta.db_table
    _unnest(
        f"INSERT INTO {table} (created_at, locked, lock_reason, last_evaluated_at, {', '.join(columns)}) "  # noqa: S608
        f"SELECT %s, false, '', %s, v.{', v.'.join(columns)}".replace("v.last_metrics", "v.last_metrics::jsonb"),
        columns,
        "ON CONFLICT (partner_id) DO UPDATE SET "
        + ", ".join(f"{name} = EXCLUDED.{name}" for name in updated)
        + ", last_evaluated_at = EXCLUDED.last_evaluated_at",
        extra_params=(now, now),
    )


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
    return require_max_length(reason, field=field_name, limit=TIER_REASON_MAX_LENGTH)


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
    require_staff_for_partner(actor, change.partner_id)
    reason = require_max_length((reason or "").strip(), field="reason", limit=TIER_REASON_MAX_LENGTH)
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
    require_staff_for_partner(actor, change.partner_id)
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
    require_staff_for_partner(actor, partner.pk)
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
    require_staff_for_partner(actor, partner.pk)
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
    require_staff_for_partner(actor, partner.pk)
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
