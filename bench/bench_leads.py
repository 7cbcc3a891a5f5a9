"""Lead routing at scale: route 10,000 leads across 2,000 partners (and across 500, to show
that the queries per lead do not depend on the number of partners).

    DJANGO_SETTINGS_MODULE=prm.settings_test DATABASE_URL=postgres://…/prm_bench_leads \\
        python -m bench.bench_leads

Writes into the CURRENT database, which must be a scratch database whose name contains
"bench": it replaces the partners named "Bench partner …" and every lead. Prints, for each
partner count: leads/second and queries per lead of `leads_route_batch` (the import and beat
path: chunks of 200 leads per transaction), and queries per lead of the single `lead_route`;
then whether the largest run meets the issue's target (≥ 500 leads/s, queries per lead no
more than with fewer partners) and the machine's load average (the figures depend on it).

The partners: 20 countries, a fifth without coordinates, four tiers (weights 0–4, one capped
at 30 open leads), some specialised; three routing rules (one with boosts). E-mail dispatch
is stubbed; bench partners have no users, so no notification rows are written. Before each
measured batch the tables it touches are vacuumed and analysed (`_vacuum`), so a run does not
pay for the dead rows of the previous one.
"""

from __future__ import annotations

import os
import random
import time
from decimal import Decimal
from unittest import mock

from bench.common import setup

LEADS = int(os.environ.get("BENCH_LEADS", "10000"))
PARTNERS = int(os.environ.get("BENCH_LEADS_PARTNERS", "2000"))
SINGLE = int(os.environ.get("BENCH_LEADS_SINGLE", "200"))
# The target for the batch path at the largest partner count.
TARGET_PER_SECOND = 500
QUERIES_SLACK = 0.01
COUNTRIES = [
    ("RU", "russia", 55.75, 37.62),
    ("KZ", "cis", 43.24, 76.89),
    ("BY", "cis", 53.90, 27.56),
    ("UZ", "cis", 41.30, 69.24),
    ("DE", "europe", 52.52, 13.40),
    ("FR", "europe", 48.86, 2.35),
    ("GB", "europe", 51.51, -0.13),
    ("IT", "europe", 41.90, 12.50),
    ("ES", "europe", 40.42, -3.70),
    ("PL", "europe", 52.23, 21.01),
    ("NL", "europe", 52.37, 4.90),
    ("BE", "europe", 50.85, 4.35),
    ("CN", "china", 39.90, 116.40),
    ("IN", "asia", 28.61, 77.21),
    ("JP", "asia", 35.68, 139.69),
    ("SG", "asia", 1.35, 103.82),
    ("US", "americas", 40.71, -74.01),
    ("BR", "americas", -23.55, -46.63),
    ("AE", "mea", 25.20, 55.27),
    ("ZA", "mea", -26.20, 28.05),
]
# Leads also come from countries with no partner (abroad band / unassigned).
LEAD_ONLY = [("IS", "europe", 64.15, -21.94), ("MN", "asia", 47.89, 106.91)]


def _seed(rng: random.Random):
    from deals.models import (
        EndCustomer,
        LeadReferenceCounter,
        PartnerSpecialisation,
        ProductLine,
        RoutingRule,
    )
    from partners.models import Partner, PartnerStatus, Tier

    _reset_routing()
    LeadReferenceCounter.objects.all().delete()
    RoutingRule.objects.all().delete()
    bench_partners = Partner.objects.filter(name__startswith="Bench partner ")
    PartnerSpecialisation.objects.filter(partner__in=bench_partners).delete()
    bench_partners.delete()

    lines = [
        ProductLine.objects.get_or_create(code=f"bench-line-{i}", defaults={"name": f"Bench line {i}"})[0]
        for i in range(5)
    ]
    tiers = []
    for rank, (code, weight, cap) in enumerate(
        [("bench-t0", 0, None), ("bench-t1", 1, None), ("bench-t2", 2, 30), ("bench-t3", 4, None)]
    ):
        tier, _ = Tier.objects.update_or_create(
            code=code, defaults={"name": code, "rank": 900 + rank, "lead_weight": weight, "max_open_leads": cap}
        )
        tiers.append(tier)
    partners = []
    for i in range(PARTNERS):
        country, region, lat, lon = COUNTRIES[i % len(COUNTRIES)]
        located = rng.random() < 0.8
        partners.append(
            Partner(
                name=f"Bench partner {i:05d}",
                legal_name=f"Bench partner {i:05d} LLC",
                partner_type=rng.choice(["reseller", "system_integrator", "msp"]),
                status=PartnerStatus.ACTIVE,
                country=country,
                region=region,
                latitude=Decimal(str(round(lat + rng.uniform(-3, 3), 6))) if located else None,
                longitude=Decimal(str(round(lon + rng.uniform(-3, 3), 6))) if located else None,
                tier=rng.choices(tiers, weights=[1, 5, 3, 1])[0],
            )
        )
    partners = Partner.objects.bulk_create(partners, batch_size=1000)
    PartnerSpecialisation.objects.bulk_create(
        [PartnerSpecialisation(partner=p, product_line=rng.choice(lines)) for p in partners if rng.random() < 0.3],
        batch_size=1000,
    )
    RoutingRule.objects.create(name="Bench: big deals", position=1, min_value=Decimal("2000000"), use_win_boost=True)
    rule = RoutingRule.objects.create(
        name="Bench: CN specialised", position=2, countries=["CN"], require_specialisation=True, allow_abroad=False
    )
    rule.product_lines.set(lines[:2])
    RoutingRule.objects.create(name="Bench: everyone", position=3, use_acceptance_boost=True)
    customer, _ = EndCustomer.objects.get_or_create(
        normalized_name="bench customer", country="", tax_id="", domain="", defaults={"name": "Bench customer"}
    )
    return partners, lines, customer


def _make_leads(rng: random.Random, lines, customer, n: int, year: int):
    from deals.models import Lead, LeadReferenceCounter

    LeadReferenceCounter.objects.update_or_create(year=year, defaults={"last_number": 0})
    leads = []
    for i in range(n):
        country, region, lat, lon = rng.choice(COUNTRIES + LEAD_ONLY if rng.random() < 0.03 else COUNTRIES)
        located = rng.random() < 0.6
        leads.append(
            Lead(
                reference=f"L-{year}-{i + 1:05d}",
                end_customer=customer,
                customer_name=f"Bench customer {i}",
                country=country,
                region=region,
                latitude=Decimal(str(round(lat + rng.uniform(-2, 2), 6))) if located else None,
                longitude=Decimal(str(round(lon + rng.uniform(-2, 2), 6))) if located else None,
                product_line=rng.choice(lines),
                estimated_value=Decimal(rng.randint(10_000, 5_000_000)),
            )
        )
    LeadReferenceCounter.objects.update_or_create(year=year, defaults={"last_number": n})
    return [lead.pk for lead in Lead.objects.bulk_create(leads, batch_size=2000)]


def _reset_routing():
    from deals.models import Lead, LeadOffer, RoutingDecision
    from prm.models import AuditLog

    LeadOffer.objects.all()._raw_delete(LeadOffer.objects.db)
    RoutingDecision.objects.all()._raw_delete(RoutingDecision.objects.db)
    Lead.products.through.objects.all()._raw_delete(Lead.objects.db)
    Lead.objects.all()._raw_delete(Lead.objects.db)
    AuditLog.objects.filter(object_type="deals.lead")._raw_delete(AuditLog.objects.db)


def _vacuum() -> None:
    """Clear the dead rows the reset and the partner updates leave, and refresh the planner's
    statistics, so that each run routes against the same table state (a server with autovacuum
    off — as the bench machine's — would otherwise slow every run down a little more)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE partners_partner, partners_tier, deals_partnerspecialisation, deals_routingrule, "
            "deals_lead, deals_leadoffer, deals_routingdecision, deals_lead_products, prm_auditlog, prm_notification"
        )


def _measure(rng, lines, customer, active: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from deals import services
    from deals.models import Lead, LeadStatus
    from partners.models import Partner, PartnerStatus

    bench = Partner.objects.filter(name__startswith="Bench partner ")
    bench.update(status=PartnerStatus.ACTIVE)
    if active < PARTNERS:
        cut = sorted(bench.values_list("pk", flat=True))[active:]
        Partner.objects.filter(pk__in=cut).update(status=PartnerStatus.SUSPENDED)
    _reset_routing()
    year = timezone.now().year
    ids = _make_leads(rng, lines, customer, LEADS, year)
    _vacuum()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        decisions = services.leads_route_batch(actor=None, leads=ids, rng=random.Random(1))
        elapsed = time.perf_counter() - started
    offered = Lead.objects.filter(status=LeadStatus.OFFERED).count()
    # The single-lead path (API / staff "route now"), on leads left unassigned or fresh ones.
    single_ids = _make_leads(rng, lines, customer, SINGLE, year + 1)
    with CaptureQueriesContext(connection) as single_queries:
        started_single = time.perf_counter()
        for lead in Lead.objects.filter(pk__in=single_ids).order_by("pk"):
            services.lead_route(actor=None, lead=lead, rng=random.Random(lead.pk))
        single_elapsed = time.perf_counter() - started_single
    return {
        "partners": active,
        "leads": len(decisions),
        "offered": offered,
        "seconds": elapsed,
        "per_second": len(decisions) / elapsed,
        "queries_per_lead": len(queries) / len(decisions),
        "single_per_second": SINGLE / single_elapsed,
        "single_queries_per_lead": len(single_queries) / SINGLE,
    }


def main() -> None:
    setup("bench_leads", "rows")
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [0x4C454144])
    call_command("migrate", verbosity=0)
    rng = random.Random(20260423)
    started = time.perf_counter()
    _partners, lines, customer = _seed(rng)
    print(f"data: {PARTNERS} partners, {LEADS} leads per run ({time.perf_counter() - started:.1f} s)", flush=True)
    with mock.patch("prm.tasks.notification_email.delay"):
        results = [_measure(rng, lines, customer, n) for n in sorted({min(500, PARTNERS), PARTNERS})]
    print(
        f"{'partners':>8} {'leads':>6} {'offered':>7} {'seconds':>8} {'leads/s':>8} {'queries/lead':>12}"
        f" {'single leads/s':>14} {'single q/lead':>13}"
    )
    for r in results:
        print(
            f"{r['partners']:>8} {r['leads']:>6} {r['offered']:>7} {r['seconds']:>8.1f} {r['per_second']:>8.0f}"
            f" {r['queries_per_lead']:>12.2f} {r['single_per_second']:>14.0f} {r['single_queries_per_lead']:>13.2f}",
            flush=True,
        )
    print(verdict(results), flush=True)
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f} (2 cores)".format(*os.getloadavg()), flush=True)


def verdict(results: list[dict]) -> str:
    """The issue's target on the largest run: at least TARGET_PER_SECOND leads/s, and queries per
    lead of the batch path no more than at the smallest partner count (bounded, independent of
    the number of partners; QUERIES_SLACK per lead allows a roster reload or two)."""
    small, big = results[0], results[-1]
    fast = big["per_second"] >= TARGET_PER_SECOND
    bounded = big["queries_per_lead"] <= small["queries_per_lead"] + QUERIES_SLACK
    words = "meets target" if fast and bounded else "BELOW target"
    return (
        f"{words}: {big['per_second']:.0f} leads/s at {big['partners']} partners (target ≥ {TARGET_PER_SECOND}); "
        f"{big['queries_per_lead']:.2f} queries/lead vs {small['queries_per_lead']:.2f} at {small['partners']} partners"
        f" ({'bounded' if bounded else 'GROWS with partners'})"
    )


if __name__ == "__main__":
    main()
