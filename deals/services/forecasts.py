"""Writes of the forecasting side: partner commits, the nightly forecast snapshots and the
reorder expectations/reminders. Pure maths lives in deals.forecasting; reads in deals.dashboard."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from deals.models import PartnerCommit
from prm.audit import audit_record, snapshot
from prm.exceptions import ApplicationError, PermissionDenied
from prm.models import Currency
from prm.money import RateTable

log = logging.getLogger(__name__)


def commit_quarter_open(year: int, quarter: int, *, today: dt.date | None = None) -> bool:
    """Commits may be set for the current quarter and later ones, never for a past quarter."""
    from deals.dashboard import quarter_of

    return (year, quarter) >= quarter_of(today or timezone.localdate())


def partner_commit_set(
    *, actor, partner, year: int, quarter: int, amount, currency: str, today: dt.date | None = None
) -> PartnerCommit:
    """Create or replace the partner's commit for a quarter; see partner_commit_upsert."""
    commit, _created = partner_commit_upsert(
        actor=actor, partner=partner, year=year, quarter=quarter, amount=amount, currency=currency, today=today
    )
    return commit


def partner_commit_upsert(
    *, actor, partner, year: int, quarter: int, amount, currency: str, today: dt.date | None = None
) -> tuple[PartnerCommit, bool]:
    """Create or replace the partner's commit for a quarter (current or future only); returns
    (commit, created).

    Allowed for the partner's own partner admins and for vendor staff. Raises PermissionDenied
    for anyone else, ApplicationError (with `fields`) for a past quarter, a bad quarter, a
    negative amount or an unknown currency. Audited; one row per partner and quarter.

    Idempotent under concurrency: the unique key (partner, year, quarter) decides which call
    creates the row. A second call racing the first waits for it on that key, then updates the
    same row (created=False; the later amount wins, as a sequential replace would) — never a
    second row, never an IntegrityError for the caller.
    """
    if not (actor.is_vendor_staff or (actor.is_partner_admin and actor.partner_id == partner.pk)):
        raise PermissionDenied(_("Only the partner's administrators or vendor staff can enter a commit."))
    errors: dict[str, list[str]] = {}
    try:
        year, quarter = int(year), int(quarter)
    except (TypeError, ValueError):
        raise ApplicationError(_("Choose a quarter."), fields={"quarter": [_("Choose a quarter.")]}) from None
    if not 1 <= quarter <= 4 or not 2000 <= year <= 2100:
        errors["quarter"] = [_("Choose a quarter.")]
    elif not commit_quarter_open(year, quarter, today=today):
        errors["quarter"] = [_("A commit can only be entered for the current or a coming quarter.")]
    try:
        amount = Decimal(str(amount)).quantize(Decimal("0.01"))
        if amount < 0 or not amount.is_finite() or amount >= Decimal("1e14"):
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors["amount"] = [_("Enter an amount of zero or more.")]
    if currency not in Currency.values:
        errors["currency"] = [_("Choose a currency.")]
    else:
        # The commit is shown beside the pipeline in the base currency: without a rate it
        # could never be converted (and the cabinet home would fail on it).
        try:
            RateTable.load(until=today or timezone.localdate()).rate(currency, today or timezone.localdate())
        except ApplicationError:
            errors["currency"] = [_("There is no exchange rate for this currency yet; choose another.")]
    if errors:
        raise ApplicationError(" ".join(m for msgs in errors.values() for m in msgs), fields=errors)
    with transaction.atomic():
        values = {"amount": amount, "currency": currency, "entered_by": actor}
        commit, created = _commit_row_locked(partner=partner, year=year, quarter=quarter, values=values)
        before = {} if created else snapshot(commit)
        commit.amount, commit.currency, commit.entered_by = amount, currency, actor
        commit.save(update_fields=["amount", "currency", "entered_by", "updated_at"])
        audit_record(
            actor=actor,
            action="commit.set",
            instance=commit,
            before=before,
            after=snapshot(commit),
            partner_id=partner.pk,
        )
    return commit, created


COMMIT_UNIQUE = "commit_partner_quarter_unique"


def _commit_row_locked(*, partner, year: int, quarter: int, values: dict) -> tuple[PartnerCommit, bool]:
    """The partner's commit row for the quarter, locked for this transaction, and whether this
    call inserted it. Call inside atomic().

    SELECT … FOR UPDATE cannot lock a row another transaction has inserted but not committed,
    so the INSERT (in a savepoint) is what decides: it waits on the unique key for that
    transaction and fails once it commits; we then lock and update the row it made."""
    lookup = {"partner": partner, "year": year, "quarter": quarter}
    commit = PartnerCommit.objects.select_for_update().filter(**lookup).first()
    if commit is not None:
        return commit, False
    try:
        with transaction.atomic():
            return PartnerCommit.objects.create(**lookup, **values), True
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != COMMIT_UNIQUE:
            raise
    return PartnerCommit.objects.select_for_update().get(**lookup), False


# --- nightly forecast snapshots -------------------------------------------------------------

# Partners forecast each night: those in the channel (prospects and applicants have no
# history; terminated ones have no future).
FORECAST_STATUSES = ("onboarding", "active", "suspended")


def _setting(key: str):
    from django.conf import settings

    return settings.PRM[key]


def _horizon_months(as_of: dt.date, quarters: list[tuple[int, int]]) -> tuple[list[dt.date], list[dt.date]]:
    """(complete months of the current quarter before as_of's month, months to forecast: from
    as_of's month to the end of the last quarter)."""
    from deals.dashboard import add_months, quarter_bounds

    first_start, _ = quarter_bounds(*quarters[0])
    _, last_end = quarter_bounds(*quarters[-1])
    current = as_of.replace(day=1)
    done, ahead = [], []
    month = first_start
    while month < last_end:
        (done if month < current else ahead).append(month)
        month = add_months(month, 1)
    return done, ahead


def _quarter_sums(months: list[dt.date], values: dict[dt.date, float]) -> dict[tuple[int, int], Decimal]:
    from deals.dashboard import quarter_of

    out: dict[tuple[int, int], Decimal] = {}
    for month in months:
        key = quarter_of(month)
        out[key] = out.get(key, Decimal("0")) + Decimal(str(round(values.get(month, 0.0), 2)))
    return {k: v.quantize(Decimal("0.01")) for k, v in out.items()}


def _monthly_history(partners, *, as_of: dt.date, by_partner: bool) -> dict:
    """{partner_id or None: {month: float}} of revenue (base currency) over the history window,
    complete months only (the month of `as_of` is excluded)."""
    from deals.dashboard import add_months, revenue_rows

    current = as_of.replace(day=1)
    since = add_months(current, -int(_setting("FORECAST_HISTORY_MONTHS")))
    out: dict = {}
    for keys, month, amount in revenue_rows(
        partners=partners, since=since, until=current, by=("id",) if by_partner else ()
    ):
        key = keys[0] if by_partner else None
        out.setdefault(key, {})[month] = out.setdefault(key, {}).get(month, 0.0) + float(amount)
    return out


def _series(months_values: dict[dt.date, float], *, as_of: dt.date) -> list[float]:
    """Dense monthly series from the first month with revenue to the last complete month."""
    from deals.dashboard import add_months

    if not months_values:
        return []
    month, end = min(months_values), as_of.replace(day=1)
    out = []
    while month < end:
        out.append(months_values.get(month, 0.0))
        month = add_months(month, 1)
    return out


def _weighted_pipeline(partners, quarters, rates, today, *, by_partner: bool) -> dict:
    """{(partner_id or None, (year, quarter)): Decimal} weighted open pipeline by expected close
    quarter (overdue close dates in the current quarter)."""
    from django.db.models import F, Sum
    from django.db.models.functions import TruncMonth

    from deals.dashboard import quarter_bounds, quarter_of
    from deals.models import ACTIVE_STATUSES, DealRegistration

    first_start, _ = quarter_bounds(*quarters[0])
    _, last_end = quarter_bounds(*quarters[-1])
    keys = ("partner_id",) if by_partner else ()
    rows = (
        DealRegistration.objects.filter(
            partner__in=partners, status__in=ACTIVE_STATUSES, expected_close_date__lt=last_end
        )
        .annotate(month=TruncMonth("expected_close_date"))
        .values(*keys, "month", "currency")
        .annotate(weighted=Sum(F("value") * F("probability") / 100))
        .order_by()
    )
    out: dict = {}
    for row in rows:
        key = (row["partner_id"] if by_partner else None, quarter_of(max(row["month"], first_start)))
        out[key] = out.get(key, Decimal("0")) + rates.to_base(row["weighted"], row["currency"], today)
    return out


def _commits(partners, quarters, rates, today, *, by_partner: bool) -> dict:
    from django.db.models import Q, Sum

    period_q = Q()
    for year, quarter in quarters:
        period_q |= Q(year=year, quarter=quarter)
    keys = ("partner_id",) if by_partner else ()
    rows = (
        PartnerCommit.objects.filter(period_q, partner__in=partners)
        .values(*keys, "year", "quarter", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    out: dict = {}
    for row in rows:
        key = (row["partner_id"] if by_partner else None, (row["year"], row["quarter"]))
        out[key] = out.get(key, Decimal("0")) + rates.to_base(row["total"], row["currency"], today)
    return out


def _snapshots_for(run, partners, *, as_of: dt.date, by_partner: bool, ids: list[int] | None = None) -> list:
    """ForecastSnapshot objects (unsaved) for the partners (per partner) or their total."""
    from deals import forecasting
    from deals.dashboard import coming_quarters
    from deals.models import ForecastSnapshot
    from prm.money import RateTable

    quarters = coming_quarters(as_of, n=int(_setting("FORECAST_QUARTERS")))
    done, ahead = _horizon_months(as_of, quarters)
    rates = RateTable.load(until=as_of)
    history = _monthly_history(partners, as_of=as_of, by_partner=by_partner)
    weighted = _weighted_pipeline(partners, quarters, rates, as_of, by_partner=by_partner)
    commits = _commits(partners, quarters, rates, as_of, by_partner=by_partner)
    keys = ids if by_partner else [None]
    out = []
    for key in keys:
        months_values = history.get(key, {})
        result = forecasting.forecast_series(
            _series(months_values, as_of=as_of),
            len(ahead),
            backtest_periods=int(_setting("FORECAST_BACKTEST_PERIODS")),
            min_months_for_model=int(_setting("FORECAST_MIN_MONTHS_FOR_MODEL")),
            optimize=not by_partner,  # one optimised fit for the total; cheap fixed fits per partner
        )
        actual = {m: months_values.get(m, 0.0) for m in done}
        chosen = _quarter_sums(done + ahead, {**actual, **dict(zip(ahead, result.forecast, strict=True))})
        naive = _quarter_sums(done + ahead, {**actual, **dict(zip(ahead, result.naive, strict=True))})
        model = (
            _quarter_sums(done + ahead, {**actual, **dict(zip(ahead, result.model, strict=True))})
            if result.model is not None
            else None
        )
        for year, quarter in quarters:
            q = (year, quarter)
            out.append(
                ForecastSnapshot(
                    run=run,
                    as_of=as_of,
                    partner_id=key,
                    year=year,
                    quarter=quarter,
                    weighted_pipeline=weighted.get((key, q), Decimal("0")).quantize(Decimal("0.01")),
                    forecast=chosen.get(q, Decimal("0")),
                    naive_forecast=naive.get(q, Decimal("0")),
                    model_forecast=model.get(q) if model is not None else None,
                    method=result.method,
                    error_metric=result.metric,
                    naive_error=_dec(result.naive_error),
                    model_error=_dec(result.model_error),
                    commit=commits.get((key, q)),
                )
            )
    return out


def _dec(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(min(value, 99999.0))).quantize(Decimal("0.0001"))


def forecast_snapshot_run(
    *, as_of: dt.date | None = None, chunk_size: int | None = None, max_chunks: int | None = None
):
    """Compute the forecast snapshots of `as_of` (today): per partner in chunks of `chunk_size`
    partners (id order), then the total. Each chunk is one transaction that writes its rows and
    moves the run's cursor, so an interrupted run resumes after the last finished chunk, and
    the run row's lock keeps two workers from doing the same chunk. Running it again once done
    is a no-op; rows are replaced, never duplicated (unique as_of+partner+quarter).
    `max_chunks` stops early (tests, operations); returns the ForecastRun."""
    from deals.models import ForecastRun, ForecastRunStatus, ForecastSnapshot
    from partners.models import Partner

    as_of = as_of or timezone.localdate()
    chunk_size = chunk_size or int(_setting("FORECAST_CHUNK_SIZE"))
    run, _created = ForecastRun.objects.get_or_create(
        as_of=as_of,
        defaults={
            "started_at": timezone.now(),
            "params": {"chunk_size": chunk_size, "quarters": _setting("FORECAST_QUARTERS")},
        },
    )
    channel = Partner.objects.filter(status__in=FORECAST_STATUSES)
    chunks = 0
    while run.status != ForecastRunStatus.DONE:
        if max_chunks is not None and chunks >= max_chunks:
            return run
        with transaction.atomic():
            run = ForecastRun.objects.select_for_update().get(pk=run.pk)
            if run.status == ForecastRunStatus.DONE:
                break
            ids = list(channel.filter(pk__gt=run.cursor).order_by("pk").values_list("pk", flat=True)[:chunk_size])
            if ids:
                rows = _snapshots_for(run, Partner.objects.filter(pk__in=ids), as_of=as_of, by_partner=True, ids=ids)
                ForecastSnapshot.objects.filter(as_of=as_of, partner_id__in=ids).delete()
                ForecastSnapshot.objects.bulk_create(rows)
                run.cursor, run.partners_done = ids[-1], run.partners_done + len(ids)
                run.save(update_fields=["cursor", "partners_done", "updated_at"])
            else:
                rows = _snapshots_for(run, channel, as_of=as_of, by_partner=False)
                ForecastSnapshot.objects.filter(as_of=as_of, partner__isnull=True).delete()
                ForecastSnapshot.objects.bulk_create(rows)
                run.status, run.finished_at = ForecastRunStatus.DONE, timezone.now()
                run.save(update_fields=["status", "finished_at", "updated_at"])
        chunks += 1
    log.info("forecast run %s: %s partners", run.as_of, run.partners_done)
    return run


# --- reorder expectations and reminders ------------------------------------------------------

_REORDER_SQL = """
    WITH d AS (
        SELECT DISTINCT partner_id, occurred_on FROM deals_salesrecord
         WHERE kind = 'sell_in' AND amount > 0 AND occurred_on > %s AND occurred_on <= %s
    ),
    g AS (
        SELECT partner_id, occurred_on,
               occurred_on - lag(occurred_on) OVER (PARTITION BY partner_id ORDER BY occurred_on) AS gap
          FROM d
    )
    SELECT partner_id, count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY gap), max(occurred_on)
      FROM g
     GROUP BY partner_id
    HAVING count(*) >= %s
"""


def reorder_expectations_compute(*, today: dt.date | None = None, lookback_days: int = 730) -> int:
    """From each partner's sell-in order days (positive records) over the last two years: the
    typical interval (median gap between order days) and the predicted next order (last order +
    interval). Set-based: one query and one upsert. `reminded_for` is kept, so a prediction
    already reminded about is not reminded again. Returns the number of expectations written."""
    from django.db import connection

    from deals.models import ReorderExpectation

    today = today or timezone.localdate()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _REORDER_SQL, [today - dt.timedelta(days=lookback_days), today, int(_setting("REORDER_MIN_ORDERS"))]
        )
        rows = cursor.fetchall()
    objs = [
        ReorderExpectation(
            partner_id=partner_id,
            orders_counted=orders,
            typical_interval_days=max(int(gap), 1),
            last_order_on=last,
            predicted_next_on=last + dt.timedelta(days=max(int(gap), 1)),
            computed_at=now,
        )
        for partner_id, orders, gap, last in rows
        if gap is not None
    ]
    with transaction.atomic():
        ReorderExpectation.objects.bulk_create(
            objs,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["partner"],
            update_fields=[
                "orders_counted",
                "typical_interval_days",
                "last_order_on",
                "predicted_next_on",
                "computed_at",
                "updated_at",
            ],
        )
    return len(objs)


def reorder_reminders_send(*, today: dt.date | None = None) -> int:
    """Remind each partner's channel manager once when the predicted next order is more than
    REORDER_GRACE_DAYS late (no sell-in since). The claim is a conditional UPDATE of
    `reminded_for` plus the notification's dedupe key, so a second run sends nothing."""
    from django.urls import reverse

    from deals.models import ReorderExpectation
    from prm.notifications import notification_send

    today = today or timezone.localdate()
    due = today - dt.timedelta(days=int(_setting("REORDER_GRACE_DAYS")))
    candidates = (
        ReorderExpectation.objects.filter(predicted_next_on__lte=due, partner__owner__isnull=False)
        .exclude(reminded_for=F("predicted_next_on"))
        .select_related("partner__owner")
    )
    sent = 0
    for expectation in candidates.iterator(chunk_size=500):
        with transaction.atomic():
            claimed = (
                ReorderExpectation.objects.filter(pk=expectation.pk, predicted_next_on=expectation.predicted_next_on)
                .exclude(reminded_for=expectation.predicted_next_on)
                .update(reminded_for=expectation.predicted_next_on)
            )
            if not claimed:
                continue
            partner = expectation.partner
            days_late = (today - expectation.predicted_next_on).days
            notification = notification_send(
                user=partner.owner,
                kind="reorder_due",
                title=_("%(partner)s has not reordered: expected %(date)s")
                % {"partner": partner.name, "date": expectation.predicted_next_on.isoformat()},
                body=_(
                    "%(partner)s usually buys every %(days)s days; its last order was on %(last)s and the next "
                    "one is %(late)s days late."
                )
                % {
                    "partner": partner.name,
                    "days": expectation.typical_interval_days,
                    "last": expectation.last_order_on.isoformat(),
                    "late": days_late,
                },
                url=reverse("staff:partner_detail", args=[partner.public_id]),
                dedupe_key=f"reorder:{partner.pk}:{expectation.predicted_next_on.isoformat()}",
            )
            sent += notification is not None
    return sent
