"""The routing engine (deals.routing) on in-memory rows, and the issue's scenarios end to end
through lead_route."""

import random
from collections import Counter
from decimal import Decimal

import pytest

from deals import routing, services
from deals.models import LeadOffer, LeadOfferStatus, LeadStatus, PartnerSpecialisation, RoutingDecision, RoutingRule
from partners.models import PartnerStatus, PartnerType, Region
from tests.deals.factories import ProductLineFactory, make_lead
from tests.factories import PartnerFactory, PartnerUserFactory, TierFactory

UK = routing.LeadFacts(country="GB", region="europe", latitude=51.5072, longitude=-0.1276)


def cand(pid, country="GB", **kw):
    return routing.Candidate(partner_id=pid, name=f"P{pid}", country=country, **kw)


# --- pure engine --------------------------------------------------------------------------


def test_route_prefers_country_partner_without_coordinates_over_geolocated_partner_abroad():
    brussels = cand(1, country="BE", latitude=50.85, longitude=4.35)
    uk_no_coords = cand(2, country="GB")
    out = routing.route(UK, [brussels, uk_no_coords], routing.DEFAULT_POOL, random.Random(1))
    assert out.partner_id == 2
    assert out.band == routing.BAND_COUNTRY


def test_route_distance_band_picks_local_partner_before_rest_of_country():
    london = cand(1, latitude=51.51, longitude=-0.13)
    manchester = cand(2, latitude=53.48, longitude=-2.24)
    nowhere = cand(3)
    for seed in range(30):
        out = routing.route(UK, [london, manchester, nowhere], routing.DEFAULT_POOL, random.Random(seed))
        assert out.partner_id == 1
        assert out.band == routing.BAND_DISTANCE
    assert out.exclusions["counts"]["farther_in_country"] == 2


def test_route_zero_weight_never_chosen():
    zero, one = cand(1, weight=0), cand(2, weight=1)
    picks = {routing.route(UK, [zero, one], routing.DEFAULT_POOL, random.Random(s)).partner_id for s in range(500)}
    assert picks == {2}


def test_route_all_zero_weights_is_no_partner_available():
    out = routing.route(UK, [cand(1, weight=0), cand(2, weight=0)], routing.DEFAULT_POOL, random.Random(0))
    assert out.partner_id is None
    assert out.band == routing.BAND_NONE
    assert out.exclusions["counts"] == {"zero_weight": 2}


def test_route_no_candidates_is_no_partner_available():
    out = routing.route(UK, [], routing.DEFAULT_POOL, random.Random(0))
    assert (out.partner_id, out.band) == (None, routing.BAND_NONE)


def test_route_declined_partner_excluded_at_every_band():
    # Country band: the only UK partner declined → abroad, never back to it.
    uk = cand(1)
    be = cand(2, country="BE", latitude=50.85, longitude=4.35)
    out = routing.route(UK, [uk, be], routing.DEFAULT_POOL, random.Random(0), excluded_ids={1})
    assert out.partner_id == 2
    assert out.band == routing.BAND_ABROAD
    # Distance band: the local partner declined → the rest of the country.
    local = cand(3, latitude=51.5, longitude=-0.1)
    out = routing.route(UK, [local, uk], routing.DEFAULT_POOL, random.Random(0), excluded_ids={3})
    assert out.partner_id == 1
    # Abroad band: the nearest abroad declined → the next abroad.
    fr = cand(4, country="FR", latitude=48.85, longitude=2.35)
    out = routing.route(UK, [be, fr], routing.DEFAULT_POOL, random.Random(0), excluded_ids={2})
    assert out.partner_id == 4
    # Everyone declined → nobody.
    out = routing.route(UK, [uk, be, fr], routing.DEFAULT_POOL, random.Random(0), excluded_ids={1, 2, 4})
    assert out.partner_id is None
    assert out.exclusions["counts"] == {"already_offered": 3}


def test_route_abroad_only_when_rule_allows():
    be = cand(2, country="BE", latitude=50.85, longitude=4.35)
    pool = routing.Pool(allow_abroad=False)
    out = routing.route(UK, [be], pool, random.Random(0))
    assert out.partner_id is None
    assert out.exclusions["counts"] == {"abroad_not_allowed": 1}


def test_route_abroad_picks_nearest_not_far_away():
    be = cand(2, country="BE", latitude=50.85, longitude=4.35)
    cn = cand(3, country="CN", latitude=39.9, longitude=116.4)
    picks = {routing.route(UK, [be, cn], routing.DEFAULT_POOL, random.Random(s)).partner_id for s in range(50)}
    assert picks == {2}


def test_route_capacity_respected():
    full = cand(1, open_leads=3, capacity=3)
    free = cand(2, open_leads=2, capacity=3)
    unlimited = cand(3, open_leads=100, capacity=None)
    picks = {
        routing.route(UK, [full, free, unlimited], routing.DEFAULT_POOL, random.Random(s)).partner_id
        for s in range(200)
    }
    assert picks == {2, 3}


def test_route_specialisation_and_type_and_tier_filters():
    lead = routing.LeadFacts(country="GB", product_line_id=7)
    spec_other = cand(1, specialisations=frozenset({8}))
    spec_match = cand(2, specialisations=frozenset({7, 8}))
    generalist = cand(3)
    wrong_type = cand(4, partner_type="msp", specialisations=frozenset({7}))
    wrong_tier = cand(5, tier_id=99)
    pool = routing.Pool(require_specialisation=True, partner_types=frozenset({""}), tier_ids=frozenset({None}))
    out = routing.route(lead, [spec_other, spec_match, generalist, wrong_type, wrong_tier], pool, random.Random(0))
    assert {c["partner_id"] for c in out.candidates} == {2, 3}
    assert out.exclusions["counts"] == {"specialisation": 1, "type": 1, "tier": 1}


def test_route_equal_weights_give_equal_odds_chi_square():
    partners = [cand(i, weight=3) for i in range(1, 6)]
    rng = random.Random(20260423)
    draws = 20000
    counts = Counter(routing.route(UK, partners, routing.DEFAULT_POOL, rng).partner_id for _ in range(draws))
    expected = draws / len(partners)
    chi2 = sum((counts[p.partner_id] - expected) ** 2 / expected for p in partners)
    # Critical value of chi-square with 4 degrees of freedom at p = 0.001.
    assert chi2 < 18.467, (chi2, counts)
    assert set(counts) == {1, 2, 3, 4, 5}


def test_route_unequal_weights_follow_weights():
    partners = [cand(1, weight=1), cand(2, weight=3)]
    rng = random.Random(7)
    counts = Counter(routing.route(UK, partners, routing.DEFAULT_POOL, rng).partner_id for _ in range(8000))
    assert 0.72 < counts[2] / 8000 < 0.78


def test_route_is_deterministic_for_a_seed():
    partners = [cand(i) for i in range(1, 20)]
    a = [routing.route(UK, partners, routing.DEFAULT_POOL, random.Random(5)).partner_id for _ in range(3)]
    b = [routing.route(UK, partners, routing.DEFAULT_POOL, random.Random(5)).partner_id for _ in range(3)]
    assert a == b


def test_route_breakdown_lists_weights_and_probabilities():
    partners = [cand(1, weight=1), cand(2, weight=3)]
    out = routing.route(UK, partners, routing.DEFAULT_POOL, random.Random(0))
    probs = {c["partner_id"]: c["probability"] for c in out.candidates}
    assert probs == {1: 0.25, 2: 0.75}
    assert 0 <= out.draw < 1


def test_route_breakdown_lists_the_heaviest_and_the_chosen_with_odds_over_the_whole_band():
    # 30 partners: weights 1 (ids 1-20) and 4 (ids 21-30); total 60.
    partners = [cand(i, weight=1) for i in range(1, 21)] + [cand(i, weight=4) for i in range(21, 31)]
    shown = routing.SHOWN_CANDIDATES
    for seed in range(200):
        out = routing.route(UK, partners, routing.DEFAULT_POOL, random.Random(seed))
        listed = {c["partner_id"]: c for c in out.candidates}
        assert out.candidate_count == 30
        assert out.partner_id in listed
        heaviest = set(range(21, 21 + shown))
        assert heaviest <= set(listed)
        assert len(listed) == shown + (out.partner_id not in heaviest)
        assert all(listed[p]["probability"] == round(4 / 60, 6) for p in heaviest)
        if out.partner_id <= 20:  # a light partner won the draw: listed with its own odds
            assert listed[out.partner_id]["probability"] == round(1 / 60, 6)
            break
    else:
        raise AssertionError("no light partner drawn in 200 seeds (odds 1/3 each time)")


def test_route_same_pick_whatever_the_listing_size():
    partners = [cand(i, weight=1 + i % 3) for i in range(1, 41)]
    for seed in range(50):
        full = routing.route(UK, partners, routing.DEFAULT_POOL, random.Random(seed), shown=100)
        short = routing.route(UK, partners, routing.DEFAULT_POOL, random.Random(seed), shown=3)
        assert (full.partner_id, full.draw, full.candidate_count) == (short.partner_id, short.draw, 40)
        assert len(full.candidates) == 40
        assert sum(c["probability"] for c in full.candidates) == pytest.approx(1.0, abs=1e-5)


def test_route_counts_offers_made_earlier_in_the_batch_against_capacity():
    capped = cand(1, open_leads=1, capacity=2)
    other = cand(2)
    assert routing.route(UK, [capped], routing.DEFAULT_POOL, random.Random(0)).partner_id == 1
    out = routing.route(UK, [capped, other], routing.DEFAULT_POOL, random.Random(0), open_extra={1: 1})
    assert out.partner_id == 2
    assert out.exclusions["counts"] == {"capacity": 1}


def test_boosts_formula_neutral_without_history_and_bounded():
    pool = routing.Pool(use_acceptance_boost=True, use_win_boost=True)
    assert routing.boost_factors(cand(1), pool) == (1.0, 1.0)
    good = cand(2, accepted=20, declined=0, timed_out=0, won=20)
    bad = cand(3, accepted=0, declined=20, timed_out=0, won=0)
    acc_good, win_good = routing.boost_factors(good, pool)
    acc_bad, _win_bad = routing.boost_factors(bad, pool)
    assert 1.4 < acc_good < 1.5 and 1.4 < win_good < 1.5
    assert 0.5 < acc_bad < 0.6
    out = routing.route(UK, [good, bad], pool, random.Random(0))
    weights = {c["partner_id"]: c["weight"] for c in out.candidates}
    assert weights[2] > weights[3] * 2


def test_match_rule_first_matching_rule_wins():
    uk_only = routing.Rule(pool=routing.Pool(rule_id=1), countries=frozenset({"GB"}))
    big = routing.Rule(pool=routing.Pool(rule_id=2), min_value=1000)
    assert routing.match_rule(routing.LeadFacts(country="GB", estimated_value=5000), [uk_only, big]).rule_id == 1
    assert routing.match_rule(routing.LeadFacts(country="DE", estimated_value=5000), [uk_only, big]).rule_id == 2
    assert (
        routing.match_rule(routing.LeadFacts(country="DE", estimated_value=5), [uk_only, big]) is routing.DEFAULT_POOL
    )


def test_haversine_london_brussels():
    assert 315 < routing.haversine_km(51.5072, -0.1276, 50.8503, 4.3517) < 325


# --- through the service (the scenarios with real rows) ----------------------------


@pytest.fixture
def uk_setup(db):
    uk = PartnerFactory(name="UK Partner", country="GB", region=Region.EUROPE, city="London")
    be = PartnerFactory(
        name="BE Partner",
        country="BE",
        region=Region.EUROPE,
        latitude=Decimal("50.850300"),
        longitude=Decimal("4.351700"),
    )
    return uk, be


def test_lead_route_uk_lead_goes_to_uk_partner_without_coordinates(uk_setup, manager):
    uk, _be = uk_setup
    lead = make_lead(country="GB", region="europe", latitude="51.5072", longitude="-0.1276")
    decision = services.lead_route(actor=manager, lead=lead, rng=random.Random(3))
    lead.refresh_from_db()
    assert decision.partner_id == uk.pk
    assert decision.band == "country"
    assert lead.status == LeadStatus.OFFERED and lead.offered_to_id == uk.pk
    assert LeadOffer.objects.get(lead=lead).status == LeadOfferStatus.OFFERED


def test_lead_route_weight_zero_partner_never_offered(db, manager):
    tier0 = TierFactory(code="zero", lead_weight=0)
    zero = PartnerFactory(country="DE", region=Region.EUROPE, tier=tier0)
    one = PartnerFactory(country="DE", region=Region.EUROPE)
    for seed in range(15):
        lead = make_lead(customer_name=f"Kunde {seed}", country="DE", region="europe")
        assert services.lead_route(actor=manager, lead=lead, rng=random.Random(seed)).partner_id == one.pk
    assert not LeadOffer.objects.filter(partner=zero).exists()


def test_lead_route_partner_weight_overrides_tier(db, manager):
    tier = TierFactory(code="gold", lead_weight=5)
    PartnerFactory(country="DE", region=Region.EUROPE, tier=tier, lead_weight=0)
    lead = make_lead(country="DE", region="europe")
    decision = services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
    assert decision.partner_id is None


def test_lead_route_all_zero_is_unassigned_without_error(db, manager):
    tier0 = TierFactory(code="zero", lead_weight=0)
    PartnerFactory.create_batch(3, country="DE", region=Region.EUROPE, tier=tier0)
    lead = make_lead(country="DE", region="europe")
    decision = services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
    lead.refresh_from_db()
    assert decision.partner_id is None and decision.band == "none"
    assert lead.status == LeadStatus.UNASSIGNED and lead.offered_to is None
    assert decision.exclusions["counts"]["zero_weight"] == 3


def test_lead_route_inactive_partners_not_offered(db, manager):
    PartnerFactory(country="DE", region=Region.EUROPE, status=PartnerStatus.SUSPENDED)
    lead = make_lead(country="DE", region="europe")
    assert services.lead_route(actor=manager, lead=lead, rng=random.Random(0)).partner_id is None


def test_lead_decline_partner_excluded_at_every_band(uk_setup, manager):
    uk, be = uk_setup
    uk_user = PartnerUserFactory(partner=uk)
    be_user = PartnerUserFactory(partner=be)
    lead = make_lead(country="GB", region="europe", latitude="51.5072", longitude="-0.1276")
    assert services.lead_route(actor=manager, lead=lead, rng=random.Random(0)).partner_id == uk.pk
    decision = services.lead_decline(user=uk_user, lead=lead, reason="Not our segment")
    assert decision.partner_id == be.pk and decision.band == "abroad"
    decision = services.lead_decline(user=be_user, lead=lead, reason="Too far")
    assert decision.partner_id is None
    assert decision.exclusions["counts"] == {"already_offered": 2}
    # Routing again by hand never goes back to them either.
    assert services.lead_route(actor=manager, lead=lead, rng=random.Random(9)).partner_id is None
    assert LeadOffer.objects.filter(lead=lead).count() == 2


def test_leads_route_batch_two_countries_each_to_its_partner(db, manager):
    de = PartnerFactory(country="DE", region=Region.EUROPE)
    cn = PartnerFactory(country="CN", region=Region.CHINA)
    leads = [make_lead(customer_name=f"DE {i}", country="DE", region="europe") for i in range(4)]
    leads += [make_lead(customer_name=f"CN {i}", country="CN", region="china") for i in range(4)]
    decisions = services.leads_route_batch(actor=manager, leads=leads, rng=random.Random(1))
    by_lead = {d.lead_id: d.partner_id for d in decisions}
    assert [by_lead[lead.pk] for lead in leads] == [de.pk] * 4 + [cn.pk] * 4


def test_leads_route_batch_no_state_leaks_between_leads(db, manager):
    p1 = PartnerFactory(country="DE", region=Region.EUROPE)
    p2 = PartnerFactory(country="DE", region=Region.EUROPE)
    u1 = PartnerUserFactory(partner=p1)
    first = make_lead(customer_name="First", country="DE", region="europe")
    services.lead_reassign(actor=manager, lead=first, partner=p1, reason="Asked for it")
    services.lead_decline(user=u1, lead=first, reason="No")
    # p1 declined `first`; a batch of other leads must still consider p1.
    others = [make_lead(customer_name=f"Other {i}", country="DE", region="europe") for i in range(30)]
    decisions = services.leads_route_batch(actor=manager, leads=others, rng=random.Random(2))
    assert {d.partner_id for d in decisions} == {p1.pk, p2.pk}


def test_lead_route_capacity_respected(db, manager):
    tier = TierFactory(code="cap", max_open_leads=2)
    capped = PartnerFactory(country="DE", region=Region.EUROPE, tier=tier)
    leads = [make_lead(customer_name=f"Cap {i}", country="DE", region="europe") for i in range(4)]
    decisions = services.leads_route_batch(actor=manager, leads=leads, rng=random.Random(0))
    assert [d.partner_id for d in decisions] == [capped.pk, capped.pk, None, None]
    assert decisions[2].exclusions["counts"] == {"capacity": 1}
    # Partner override lifts the cap.
    capped.max_open_leads = 3
    capped.save(update_fields=["max_open_leads"])
    assert services.lead_route(actor=manager, lead=leads[2], rng=random.Random(0)).partner_id == capped.pk


def test_lead_route_rule_pool_and_specialisation(db, manager):
    line = ProductLineFactory(code="storage", name="Storage")
    other = ProductLineFactory(code="network", name="Network")
    spec = PartnerFactory(country="DE", region=Region.EUROPE, partner_type=PartnerType.SYSTEM_INTEGRATOR)
    PartnerSpecialisation.objects.create(partner=spec, product_line=line)
    wrong_spec = PartnerFactory(country="DE", region=Region.EUROPE, partner_type=PartnerType.SYSTEM_INTEGRATOR)
    PartnerSpecialisation.objects.create(partner=wrong_spec, product_line=other)
    PartnerFactory(country="DE", region=Region.EUROPE, partner_type=PartnerType.RESELLER)
    rule = RoutingRule.objects.create(
        name="DE storage",
        position=1,
        countries=["DE"],
        partner_types=[PartnerType.SYSTEM_INTEGRATOR],
        require_specialisation=True,
        acceptance_hours=24,
    )
    rule.product_lines.add(line)
    lead = make_lead(country="DE", region="europe", product_line=line.pk)
    decision = services.lead_route(actor=manager, lead=lead, rng=random.Random(0))
    assert decision.partner_id == spec.pk
    assert decision.rule_id == rule.pk
    assert decision.exclusions["counts"] == {"specialisation": 1, "type": 1}
    offer = LeadOffer.objects.get(lead=lead)
    assert (offer.expires_at - offer.offered_at).total_seconds() == 24 * 3600


def test_lead_route_queries_bounded_independent_of_partner_count(db, manager, django_assert_max_num_queries):
    def run(n):
        PartnerFactory.create_batch(n, country="FR", region=Region.EUROPE)
        lead = make_lead(customer_name=f"Paris {n}", country="FR", region="europe")
        RoutingRule.objects.create(name=f"boost {n}", position=n, use_acceptance_boost=True, use_win_boost=True)
        with django_assert_max_num_queries(16):
            services.lead_route(actor=manager, lead=lead, rng=random.Random(0))

    run(3)
    run(40)
    assert RoutingDecision.objects.count() == 2


# --- the optimised engine against a plain statement of the rules ----------------------------


def _reference_route(lead, candidates, pool, draw, excluded, open_extra, sample_size):
    """The rules of deals.routing's docstring, written plainly (every partner checked with
    exclusion_reason, every distance measured, every weight computed): what `route` must
    decide, whatever it caches. Returns (band, partner_id, counts, sample, probabilities, weights)."""
    counts, sample, home, abroad = Counter(), [], [], []
    for c in sorted(candidates, key=lambda c: c.partner_id):
        reason = routing.exclusion_reason(c, lead, pool, excluded, open_extra.get(c.partner_id, 0))
        if reason:
            counts[reason] += 1
            if len(sample) < sample_size:
                sample.append({"partner_id": c.partner_id, "name": c.name, "reason": reason})
        else:
            (home if c.country == lead.country else abroad).append(c)

    def km(c):
        if None in (lead.latitude, lead.longitude, c.latitude, c.longitude):
            return None
        return routing.haversine_km(lead.latitude, lead.longitude, c.latitude, c.longitude)

    band, chosen = "none", []
    if home:
        local = [c for c in home if km(c) is not None and km(c) <= routing.LOCAL_RADIUS_KM]
        band, chosen = ("distance", local) if local else ("country", home)
        counts["farther_in_country"] += len(home) - len(chosen)
        counts["abroad_not_needed"] += len(abroad)
    elif abroad and pool.allow_abroad:
        if lead.latitude is not None:
            located = [c for c in abroad if km(c) is not None]
            nearest = min((km(c) for c in located), default=None)
            chosen = [c for c in located if km(c) <= nearest + routing.ABROAD_SLACK_KM]
        else:
            chosen = [c for c in abroad if lead.region and c.region == lead.region]
        band = "abroad" if chosen else "none"
        counts["farther_abroad" if chosen else "abroad_out_of_reach"] += len(abroad) - len(chosen)
    elif abroad:
        counts["abroad_not_allowed"] += len(abroad)
    weights = [c.weight * routing.boost_factors(c, pool)[0] * routing.boost_factors(c, pool)[1] for c in chosen]
    total = sum(weights)
    counts = {k: n for k, n in sorted(counts.items()) if n}
    if not chosen:
        return "none", None, counts, sample, {}, {}
    listed = [round(w, 6) for w in weights]
    partner_id = routing.pick_weighted([(c.partner_id, w) for c, w in zip(chosen, listed, strict=False)], draw)
    odds = {c.partner_id: round(w / total, 6) for c, w in zip(chosen, weights, strict=False)}
    return band, partner_id, counts, sample, odds, {c.partner_id: w for c, w in zip(chosen, weights, strict=False)}


def test_route_decides_as_the_plain_rules_whatever_it_reuses():
    rng = random.Random(20260423)
    places = [("GB", "europe", 51.5, -0.1), ("BE", "europe", 50.8, 4.3), ("CN", "china", 39.9, 116.4)]
    checked = set()
    for _group in range(60):
        candidates = []
        for pid in rng.sample(range(1, 400), rng.randint(0, 60)):
            country, region, lat, lon = rng.choice(places)
            located = rng.random() < 0.7
            candidates.append(
                cand(
                    pid,
                    country=country,
                    region=region,
                    partner_type=rng.choice(["msp", "reseller"]),
                    is_active=rng.random() < 0.95,
                    tier_id=rng.choice([None, 1, 2]),
                    latitude=lat + rng.uniform(-2, 2) if located else None,
                    longitude=lon + rng.uniform(-2, 2) if located else None,
                    weight=rng.choice([0, 1, 1, 2, 4]),
                    open_leads=rng.randint(0, 4),
                    capacity=rng.choice([None, None, 3, 5]),
                    specialisations=frozenset(rng.sample([1, 2, 3], rng.randint(0, 2))),
                    accepted=rng.randint(0, 9),
                    declined=rng.randint(0, 9),
                    timed_out=rng.randint(0, 3),
                    won=rng.randint(0, 5),
                )
            )
        shared = routing.CandidateSet(candidates)  # its screens and draws are reused below
        pools = [
            routing.Pool(
                partner_types=frozenset(rng.choice([[], ["msp"]])),
                tier_ids=frozenset(rng.choice([[], [1, 2]])),
                require_specialisation=rng.random() < 0.5,
                allow_abroad=rng.random() < 0.7,
                use_acceptance_boost=rng.random() < 0.5,
                use_win_boost=rng.random() < 0.5,
            )
            for _ in range(3)
        ]
        ids = [c.partner_id for c in candidates] + [999]
        for _lead in range(30):
            country, region, lat, lon = rng.choice([*places, ("IS", "europe", 64.1, -21.9)])
            located = rng.random() < 0.6
            lead = routing.LeadFacts(
                country=country,
                region=region,
                latitude=lat + rng.uniform(-1.5, 1.5) if located else None,
                longitude=lon + rng.uniform(-1.5, 1.5) if located else None,
                product_line_id=rng.choice([None, 1, 2, 3]),
            )
            pool = rng.choice(pools)
            excluded = set(rng.sample(ids, min(len(ids), rng.randint(0, 4))))
            extra = {p: rng.randint(0, 3) for p in rng.sample(ids, min(len(ids), rng.randint(0, 8)))}
            sample_size = rng.choice([20, 3])
            seed = rng.random()
            out = routing.route(
                lead,
                shared if rng.random() < 0.7 else list(reversed(candidates)),
                pool,
                random.Random(seed),
                excluded_ids=excluded,
                open_extra=extra,
                sample_size=sample_size,
            )
            band, partner_id, counts, sample, odds, weights = _reference_route(
                lead, candidates, pool, random.Random(seed).random(), excluded, extra, sample_size
            )
            assert (out.band, out.partner_id) == (band, partner_id)
            assert out.exclusions == {"counts": counts, "sample": sample}
            assert out.candidate_count == len(odds)
            assert {c["partner_id"]: c["probability"] for c in out.candidates} == {
                p: odds[p] for p in (c["partner_id"] for c in out.candidates)
            }
            heaviest = sorted(weights, key=lambda p: (-weights[p], p))[: routing.SHOWN_CANDIDATES]
            assert {c["partner_id"] for c in out.candidates} == set(heaviest) | ({partner_id} - {None})
            checked.add(band)
    assert checked == {"distance", "country", "abroad", "none"}


# --- the batch path: queries, and what a batch keeps between its chunks ---------------------


def test_leads_route_batch_queries_do_not_depend_on_partner_count(db, manager):
    """The import / beat path: the same number of queries for 2 and for 30 partners per country
    (partners are loaded once for the batch, whatever their number), and a fixed number per
    chunk of leads."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    RoutingRule.objects.create(name="Boosted", position=1, use_acceptance_boost=True, use_win_boost=True)

    def batch(per_country: int, tag: str) -> int:
        for country, region in (("DE", Region.EUROPE), ("FR", Region.EUROPE), ("CN", Region.CHINA)):
            PartnerFactory.create_batch(per_country, country=country, region=region, owner=manager)
        leads = [
            make_lead(customer_name=f"{tag} {country} {i}", country=country, region=region)
            for i in range(4)
            for country, region in (("DE", "europe"), ("FR", "europe"), ("CN", "china"), ("IS", "europe"))
        ]  # IS has no partner: its leads go abroad (everyone is loaded once)
        with CaptureQueriesContext(connection) as queries:
            decisions = services.leads_route_batch(actor=manager, leads=leads, rng=random.Random(3), chunk=8)
        assert len(decisions) == 16 and all(d.partner_id for d in decisions)
        return len(queries)

    few = batch(2, "few")
    many = batch(30, "many")  # 32 partners per country now
    assert many == few, (few, many)
    # Once per batch: rules 3, home partners 1 + their rates 1, partners abroad 1 + rates 1. Per
    # chunk: lock, past offers, 3 inserts, update, partner users, savepoint and its release.
    assert few <= 7 + 2 * 9


def test_leads_route_batch_capacity_carries_over_between_chunks(db, manager):
    tier = TierFactory(code="cap", max_open_leads=2)
    capped = PartnerFactory(country="DE", region=Region.EUROPE, tier=tier, owner=manager)
    leads = [make_lead(customer_name=f"Chunk {i}", country="DE", region="europe") for i in range(4)]
    decisions = services.leads_route_batch(actor=manager, leads=leads, rng=random.Random(0), chunk=1)
    assert [d.partner_id for d in decisions] == [capped.pk, capped.pk, None, None]
    assert decisions[3].exclusions["counts"] == {"capacity": 1}


def test_roster_reloads_after_max_age_with_the_offers_made_so_far(db, manager):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from deals.services.lead_routing import ROSTER_MAX_AGE, Roster, route_locked

    tier = TierFactory(code="cap2", max_open_leads=2)
    capped = PartnerFactory(country="DE", region=Region.EUROPE, tier=tier, owner=manager)
    later = PartnerFactory(country="DE", region=Region.EUROPE, owner=manager, lead_weight=0)
    clock = [0.0]
    roster = Roster(clock=lambda: clock[0])
    leads = [make_lead(customer_name=f"Aged {i}", country="DE", region="europe") for i in range(5)]

    def chunk(part):
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            decisions = route_locked(part, actor=None, rng=random.Random(0), now=part[0].created_at, roster=roster)
        partner_loads = [q for q in queries.captured_queries if 'FROM "partners_partner"' in q["sql"]]
        return [d.partner_id for d in decisions], len(partner_loads)

    assert chunk(leads[:1]) == ([capped.pk], 1)
    assert chunk(leads[1:2]) == ([capped.pk], 0)  # same roster, no reload; capped is full now
    later.lead_weight = 5
    later.save(update_fields=["lead_weight"])
    clock[0] += ROSTER_MAX_AGE + 1
    # Reloaded: the new weight shows, and capped's two open offers come back from the database.
    assert chunk(leads[2:]) == ([later.pk] * 3, 1)
    assert RoutingDecision.objects.get(lead=leads[2]).exclusions["counts"] == {"capacity": 1}
