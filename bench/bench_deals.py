"""Deal registration at scale: 1,000,000 registrations and 200,000 end customers.

    DJANGO_SETTINGS_MODULE=prm.settings_test DATABASE_URL=postgres://…/prm_bench python -m bench.bench_deals

Generates the data set-based (INSERT … SELECT generate_series) in the CURRENT database —
which must be a scratch database whose name contains "bench" — unless it is already there
(BENCH_DEALS_RESEED=1 forces a fresh one), then prints p50/p95 of:

* the pre-submit check (`deal_precheck`) for names, tax ids and domains that exist, near
  misses and new customers;
* a full submission (`deal_submit` of a draft, with conflict detection, flags, SLA, audit
  and notifications) and `deal_create(submit=True)`.

E-mail dispatch is stubbed (no broker needed); everything else is the real service path.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from unittest import mock

from bench.common import execute, pct, scalar, setup

REGISTRATIONS = int(os.environ.get("BENCH_DEALS_REGISTRATIONS", "1000000"))
CUSTOMERS = int(os.environ.get("BENCH_DEALS_CUSTOMERS", "200000"))
PARTNERS = 2000
PRODUCTS = 200
SAMPLES = int(os.environ.get("BENCH_DEALS_SAMPLES", "400"))

# Common words so names share trigrams the way real company names do.
WORDS = [
    "системы",
    "технологии",
    "торговый дом",
    "инжиниринг",
    "логистика",
    "строй",
    "энерго",
    "телеком",
    "systems",
    "technologies",
    "group",
    "holding",
    "logistics",
    "solutions",
    "trading",
    "industries",
    "software",
    "consulting",
    "软件",
    "科技",
]
LEGAL = ["ООО", "АО", "ПАО", "LLC", "Ltd", "GmbH", "Inc", "有限公司"]


def _seeded() -> bool:
    return (
        scalar("SELECT count(*) FROM deals_endcustomer") >= CUSTOMERS
        and scalar("SELECT count(*) FROM deals_dealregistration") >= REGISTRATIONS
    )


def _seed() -> None:
    from django.contrib.auth.hashers import make_password

    from deals.models import Product, ProductLine
    from partners.models import Partner, PartnerStatus, PartnerType, Region
    from prm.models import Role, User

    started = time.perf_counter()
    print("seeding: truncating deals tables …", flush=True)
    execute(
        "TRUNCATE deals_dealproduct, deals_conflict, deals_protectionextension, deals_dealregistration, "
        "deals_endcustomer, deals_directaccount, deals_product, deals_productline, deals_dealreferencecounter "
        "RESTART IDENTITY CASCADE"
    )
    execute("DELETE FROM prm_notification WHERE kind LIKE 'deal%' OR kind LIKE 'conflict%' OR kind LIKE 'extension%'")
    execute("DELETE FROM prm_auditlog WHERE object_type LIKE 'deals.%'")

    lead = User.objects.filter(email="bench-lead@bench.test").first() or User.objects.create(
        email="bench-lead@bench.test", full_name="Bench Lead", role=Role.CHANNEL_LEAD, password=make_password(None)
    )
    manager = User.objects.filter(email="bench-manager@bench.test").first() or User.objects.create(
        email="bench-manager@bench.test",
        full_name="Bench Manager",
        role=Role.CHANNEL_MANAGER,
        reports_to=lead,
        password=make_password(None),
    )
    have = Partner.objects.filter(name__startswith="Bench Partner ").count()
    Partner.objects.bulk_create(
        [
            Partner(
                name=f"Bench Partner {i:04d}",
                legal_name=f"Bench Partner {i:04d} LLC",
                partner_type=PartnerType.RESELLER,
                status=PartnerStatus.ACTIVE,
                country="RU",
                region=Region.RUSSIA,
                owner=manager,
            )
            for i in range(have, PARTNERS)
        ],
        batch_size=1000,
    )
    partners = list(Partner.objects.filter(name__startswith="Bench Partner ").order_by("pk"))
    existing = set(User.objects.filter(email__endswith="@bench-partner.test").values_list("partner_id", flat=True))
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(
                email=f"rep{p.pk}@bench-partner.test",
                full_name=f"Rep {p.pk}",
                role=Role.PARTNER_ADMIN,
                partner=p,
                password=unusable,
                email_notifications=False,
            )
            for p in partners
            if p.pk not in existing
        ],
        batch_size=1000,
    )
    lines = ProductLine.objects.bulk_create([ProductLine(name=f"Line {i}", code=f"line-{i}") for i in range(10)])
    Product.objects.bulk_create(
        [Product(line=lines[i % 10], name=f"Product {i}", sku=f"BENCH-{i:04d}") for i in range(PRODUCTS)]
    )

    print(f"seeding: {CUSTOMERS:,} end customers …", flush=True)
    # Names: a legal form and a distinctive pseudo-word (md5 letters), often a common word.
    execute(
        f"""
        INSERT INTO deals_endcustomer
            (public_id, name, normalized_name, website, domain, tax_id, country, city, created_at, updated_at)
        SELECT md5('ec' || g)::uuid,
               legal || ' «' || initcap(uname) || '»',
               uname,
               CASE WHEN g %% 10 < 6 THEN 'https://www.' || slug || '.ru/' ELSE '' END,
               CASE WHEN g %% 10 < 6 THEN slug || '.ru' ELSE '' END,
               CASE WHEN g %% 10 < 7 THEN (7700000000 + g)::text ELSE '' END,
               'RU', 'Moscow', now(), now()
        FROM (
          -- customers with neither tax id nor domain are unique by name: give them a number
          SELECT *, CASE WHEN g %% 10 >= 7 THEN base || ' ' || g ELSE base END AS uname FROM (
            SELECT g,
                   (%s::text[])[1 + g %% {len(LEGAL)}] AS legal,
                   -- one distinctive word of 5-10 letters; 40 %% also carry one of the common
                   -- words (2 %% of all names each), 20 %% a second distinctive word
                   translate(substr(md5(g::text), 1, 5 + g %% 6), '0123456789abcdef', 'aeioukrstnmlpdvz')
                     || CASE WHEN g %% 10 < 4 THEN ' ' || (%s::text[])[1 + (g / 10) %% {len(WORDS)}]
                             WHEN g %% 10 < 6 THEN ' ' || translate(substr(md5((g * 7)::text), 1, 4 + g %% 5),
                                                              '0123456789abcdef', 'aeioukrstnmlpdvz')
                             ELSE '' END
                     || CASE WHEN g %% 7 = 0 THEN ' ' || (g %% 97)::text ELSE '' END AS base,
                   translate(substr(md5(g::text), 1, 8), '0123456789abcdef', 'aeioukrstnmlpdvz') || g AS slug
            FROM generate_series(1, {CUSTOMERS}) AS g
        ) AS words
        ) AS src
        """,  # noqa: S608 — only this module's integer constants are formatted in
        [LEGAL, WORDS],
    )

    print(f"seeding: {REGISTRATIONS:,} registrations …", flush=True)
    this_year = dt.date.today().year
    # Partner and user ids as arrays indexed by a hash of g: a JOIN against a window function
    # over generate_series (estimated at 1000 rows) makes the planner pick a nested loop.
    rep_of = dict(User.objects.filter(email__endswith="@bench-partner.test").values_list("partner_id", "pk"))
    partner_ids = [p.pk for p in partners][:PARTNERS]
    user_ids = [rep_of[pk] for pk in partner_ids]
    execute(
        f"""
        INSERT INTO deals_dealregistration (
            public_id, reference, partner_id, submitted_by_id, end_customer_id, customer_entered, title, description,
            value, currency, expected_close_date, stage, probability, status, status_changed_at,
            submitted_at, last_submitted_at, submission_count, review_due_at, review_reminder_at,
            decided_at, decision_reason, approved_at, protection_days, protected_until, expired_at,
            closed_at, final_amount, lost_reason, flags, flag_evidence, created_at, updated_at)
        SELECT md5('dr' || g)::uuid,
               'DR-' || ({this_year} - 1 - g %% 7) || '-' || lpad(g::text, 7, '0'),
               (%s::bigint[])[1 + prn], (%s::bigint[])[1 + prn],
               1 + (g::bigint * 7919) %% {CUSTOMERS},
               '{{}}', '', '',
               (g %% 1000) * 1000, 'RUB', current_date + 60, 'proposal', 50,
               st, t,
               CASE WHEN st = 'draft' THEN NULL ELSE t END,
               CASE WHEN st = 'draft' THEN NULL ELSE t END,
               CASE WHEN st = 'draft' THEN 0 ELSE 1 END,
               CASE WHEN st = 'draft' THEN NULL ELSE t + interval '2 days' END,
               CASE WHEN st = 'draft' THEN NULL ELSE t + interval '36 hours' END,
               CASE WHEN st IN ('draft', 'submitted') THEN NULL ELSE t + interval '1 day' END,
               CASE WHEN st IN ('rejected', 'returned') THEN 'bench' ELSE '' END,
               CASE WHEN st IN ('approved', 'won', 'lost', 'expired') THEN t + interval '1 day' END,
               CASE WHEN st IN ('approved', 'won', 'lost', 'expired') THEN 90 END,
               CASE WHEN st IN ('approved', 'won', 'lost', 'expired') THEN t + interval '91 days' END,
               CASE WHEN st = 'expired' THEN t + interval '91 days' END,
               CASE WHEN st IN ('won', 'lost') THEN t + interval '30 days' END,
               CASE WHEN st = 'won' THEN (g %% 1000) * 900 END,
               CASE WHEN st = 'lost' THEN 'price' ELSE '' END,
               '{{}}', '{{}}', t, t
        FROM (
            SELECT g,
                   (ARRAY['submitted','submitted','approved','approved','approved','approved',
                          'won','won','won','lost','lost','lost','expired','expired','expired',
                          'rejected','rejected','draft','returned','won'])[1 + g %% 20] AS st,
                   -- approved ones: most still protected (t within the last 90 days)
                   now() - ((g %% 80) || ' days')::interval - ((g %% 1440) || ' minutes')::interval
                     - CASE WHEN g %% 20 BETWEEN 2 AND 5 THEN interval '0' ELSE interval '100 days' END AS t,
                       (g::bigint * 31) %% {PARTNERS} AS prn
            FROM generate_series(1, {REGISTRATIONS}) AS g
        ) AS src
        """,  # noqa: S608 — only this module's integer constants are formatted in
        [partner_ids, user_ids],
    )
    print("seeding: registered products …", flush=True)
    first_product = scalar("SELECT min(id) FROM deals_product")
    execute(
        f"""
        INSERT INTO deals_dealproduct (registration_id, product_id)
        SELECT id, {first_product} + (id * 13) % {PRODUCTS} FROM deals_dealregistration
        UNION ALL
        SELECT id, {first_product} + (id * 17 + 5) % {PRODUCTS} FROM deals_dealregistration WHERE id % 2 = 0
        ON CONFLICT DO NOTHING
        """  # noqa: S608 — only this module's integer constants are formatted in
    )
    # VACUUM also merges the GIN pending list the bulk insert left behind (autovacuum would,
    # later): without it every trigram probe scans that list too.
    execute("VACUUM ANALYZE deals_endcustomer, deals_dealregistration, deals_dealproduct")
    print(f"seeding: done in {time.perf_counter() - started:.0f} s", flush=True)


def _report(label: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"{label:<52} n={len(ms):>4}  p50={pct(ms, 0.50):6.2f} ms  p95={pct(ms, 0.95):6.2f} ms  "
        f"max={max(ms):6.2f} ms  mean={statistics.fmean(ms):6.2f} ms",
        flush=True,
    )


def _measure() -> None:
    from deals import services
    from deals.models import DealRegistration, EndCustomer, Product
    from partners.models import Partner
    from prm.models import User

    rng = random.Random(20260301)  # noqa: S311 — reproducible sampling, not security
    partner = Partner.objects.filter(name__startswith="Bench Partner ").order_by("pk").first()
    user = User.objects.get(partner=partner)
    product_ids = list(Product.objects.values_list("pk", flat=True))
    max_customer = EndCustomer.objects.order_by("-pk").values_list("pk", flat=True)[0]
    customers = list(
        EndCustomer.objects.filter(pk__in=[rng.randint(1, max_customer) for _ in range(SAMPLES)]).values(
            "name", "normalized_name", "tax_id", "domain", "website"
        )
    )

    def precheck_inputs():
        for i in range(SAMPLES):
            c = customers[i % len(customers)]
            kind = i % 4
            if kind == 0:  # exact existing company, all keys
                yield {"name": c["name"], "website": c["website"], "tax_id": c["tax_id"]}
            elif kind == 1:  # same company typed differently, name only
                yield {"name": "ООО " + c["normalized_name"].upper()}
            elif kind == 2:  # near miss: one word changed
                yield {"name": c["normalized_name"].split(" ")[0] + " " + rng.choice(WORDS)}
            else:  # a new company
                yield {
                    "name": f"Newco {rng.randint(10**6, 10**7)} {rng.choice(WORDS)}",
                    "tax_id": str(rng.randint(10**9, 10**10)),
                }

    # Warm-up (connection, caches), then measure.
    def some_products(i):
        # Half without products: those overlap with every registration of the customer.
        return [] if i % 2 else [rng.choice(product_ids)]

    for i, data in enumerate(list(precheck_inputs())[:20]):
        services.deal_precheck(partner=partner, products=some_products(i), **data)
    samples, verdicts = [], {}
    for i, data in enumerate(precheck_inputs()):
        started = time.perf_counter()
        result = services.deal_precheck(partner=partner, products=some_products(i), **data)
        samples.append(time.perf_counter() - started)
        verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
    print(
        f"data: {DealRegistration.objects.count():,} registrations, {EndCustomer.objects.count():,} end customers",
        flush=True,
    )
    _report("deal_precheck", samples)
    print(f"  verdicts: {verdicts}", flush=True)
    # Adversarial: a 3-letter name plus a common word. The common word holds 2/3 of the typed
    # trigrams, so every stored name with that word (2 % of all) passes the GIN pruning at 0.6
    # and is rechecked on the heap.
    adversarial = []
    for _ in range(SAMPLES // 4):
        name = "".join(rng.choice("bcdfgklmnprstvz") for _ in range(3)) + " " + rng.choice(WORDS)
        started = time.perf_counter()
        services.deal_precheck(partner=partner, name=name)
        adversarial.append(time.perf_counter() - started)
    _report("deal_precheck, adversarial '<3 letters> <common word>'", adversarial)

    close = dt.date.today() + dt.timedelta(days=60)
    from django.utils import timezone

    measure_started = timezone.now()
    submit_n = max(50, SAMPLES // 2)
    drafts = []
    for i in range(submit_n):
        c = customers[i % len(customers)]
        if i % 2 == 0:  # an existing customer: conflicts and flags are computed and recorded
            customer = {"name": c["name"], "website": c["website"], "tax_id": c["tax_id"], "country": "RU"}
        else:  # a new customer
            customer = {"name": f"Bench New {i} {rng.choice(WORDS)}", "tax_id": str(9 * 10**11 + i), "country": "RU"}
        drafts.append(
            services.deal_create(
                user=user,
                partner=partner,
                customer=customer,
                products=[] if i % 4 == 0 else [rng.choice(product_ids)],
                value=Decimal("100000"),
                currency="RUB",
                expected_close_date=close,
            )
        )
    submit_samples = []
    for draft in drafts:
        started = time.perf_counter()
        services.deal_submit(user=user, deal=draft)
        submit_samples.append(time.perf_counter() - started)
    _report("deal_submit (with conflict detection)", submit_samples)

    create_samples = []
    for i in range(submit_n // 2):
        c = customers[-(i + 1)]
        started = time.perf_counter()
        services.deal_create(
            user=user,
            partner=partner,
            customer={"name": c["name"], "website": c["website"], "tax_id": c["tax_id"], "country": "RU"},
            products=some_products(i),
            value=Decimal("5000"),
            currency="RUB",
            expected_close_date=close,
            submit=True,
        )
        create_samples.append(time.perf_counter() - started)
    _report("deal_create(submit=True)", create_samples)
    from deals.models import Conflict

    print(f"  conflicts recorded by the timed submissions: {Conflict.objects.count()}", flush=True)
    # Leave the data set as generated for the next run: drop what the timings added.
    bench_ids = list(
        DealRegistration.objects.filter(partner=partner, created_at__gte=measure_started).values_list("pk", flat=True)
    )
    execute(
        "DELETE FROM deals_conflict WHERE registration_low_id = ANY(%s) OR registration_high_id = ANY(%s)",
        [bench_ids, bench_ids],
    )
    execute("DELETE FROM deals_dealproduct WHERE registration_id = ANY(%s)", [bench_ids])
    execute("DELETE FROM deals_dealregistration WHERE id = ANY(%s)", [bench_ids])
    execute(
        "DELETE FROM deals_endcustomer c WHERE c.created_at >= %s "
        "AND NOT EXISTS (SELECT 1 FROM deals_dealregistration r WHERE r.end_customer_id = c.id)",
        [measure_started],
    )


def main() -> None:
    setup("bench_deals")
    from django.core.management import call_command

    # Two runs at once (say `make bench` and a manual run) would truncate each other's data:
    # the second waits here until the first is done.
    execute("SELECT pg_advisory_lock(%s)", [0x42454E43])
    call_command("migrate", verbosity=0)
    if os.environ.get("BENCH_DEALS_RESEED") == "1" or not _seeded():
        _seed()
    else:
        print("data: already seeded (BENCH_DEALS_RESEED=1 to regenerate)", flush=True)
    # E-mails would be queued on a broker after commit; the bench measures the database path.
    with mock.patch("prm.tasks.notification_email.delay"):
        _measure()


if __name__ == "__main__":
    main()
    sys.exit(0)
