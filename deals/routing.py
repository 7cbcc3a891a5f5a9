"""The lead routing engine: pure functions over in-memory rows, no database.

Deterministic for a given `random.Random`: the same lead, candidates, rule and generator state
give the same decision. deals.services.leads loads the rows (a bounded number of queries,
whatever the number of partners) and stores the `Outcome` as a RoutingDecision.

Rule matching: the first active rule (by position) whose conditions all hold; empty
condition lists mean "any". No rule matches → the DEFAULT_POOL (anyone eligible, abroad
allowed, no boosts).

Eligibility of a partner (each failure is an exclusion reason, counted in the decision):
  inactive        status is not active
  already_offered it was offered this lead before (declined, timed out, withdrawn): never again
  type / tier     not in the rule's partner types / tiers (when the rule lists any)
  specialisation  the rule requires specialisation and the partner has specialisations, none
                  of them the lead's product line (a partner with NO specialisation is a
                  generalist and matches every line)
  capacity        it already holds max_open_leads open offers (partner value, else tier's)
  zero_weight     its weight is 0 (partner lead_weight, else tier lead_weight, else 1)

Bands, first non-empty wins:
  distance  the lead has coordinates: same-country partners with coordinates within
            LOCAL_RADIUS_KM of the lead
  country   every other eligible same-country partner (farther away, or without coordinates:
            a partner without coordinates is eligible through its country, after the local ones)
  abroad    only when the country has no eligible partner and the rule allows it: with lead
            coordinates, the geolocated partners abroad within ABROAD_SLACK_KM of the nearest
            one; without them, eligible partners abroad in the lead's region
  none      nobody eligible: "no partner available" (the lead becomes unassigned)

Pick: weighted random over the band. weight = base × acceptance boost × win boost, where
  acceptance boost = 0.5 + (accepted + 1) / (answered + 2)   (answered = accepted+declined+timed out)
  win boost        = 0.5 + (won + 1) / (accepted + 2)
each only when the rule turns it on. Both are 1.0 for a partner with no history, lie in
(0.5, 1.5), so a boost can at most triple a weight relative to another and never makes a
zero weight positive. Equal weights give equal odds: the draw is u = rng.random() × total and
the pick is the first candidate (sorted by partner id) whose cumulative weight exceeds u.

Explanation (stored with each decision): every exclusion reason with its count and a sample of
the first EXCLUSION_SAMPLE excluded partners; the band's size (`candidate_count`); and the
SHOWN_CANDIDATES heaviest candidates of the band plus the chosen partner, each with its base
weight, boosts, weight, distance and probability over the whole band. A country band can hold
hundreds of partners: listing all of them made storing the decisions the cost of routing.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

LOCAL_RADIUS_KM = 150.0
ABROAD_SLACK_KM = 100.0
EXCLUSION_SAMPLE = 20
# The explanation lists this many of the band's candidates (the heaviest) plus the chosen one;
# a country band can hold hundreds, and each decision is stored.
SHOWN_CANDIDATES = 10

BAND_DISTANCE = "distance"
BAND_COUNTRY = "country"
BAND_ABROAD = "abroad"
BAND_NONE = "none"


@dataclass(frozen=True)
class LeadFacts:
    country: str
    region: str = ""
    latitude: float | None = None
    longitude: float | None = None
    product_line_id: int | None = None
    estimated_value: float | None = None


@dataclass(frozen=True)
class Candidate:
    partner_id: int
    name: str
    country: str
    region: str = ""
    partner_type: str = ""
    is_active: bool = True
    tier_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    weight: int = 1  # effective base weight (partner override, else tier, else 1)
    open_leads: int = 0
    capacity: int | None = None  # None = unlimited
    specialisations: frozenset[int] = frozenset()
    accepted: int = 0
    declined: int = 0
    timed_out: int = 0
    won: int = 0
    public_id: str = ""


@dataclass(frozen=True)
class Pool:
    """What a rule allows (the rule's pool half). Empty sets mean any."""

    rule_id: int | None = None
    rule_name: str = ""
    partner_types: frozenset[str] = frozenset()
    tier_ids: frozenset[int] = frozenset()
    require_specialisation: bool = False
    allow_abroad: bool = True
    use_acceptance_boost: bool = False
    use_win_boost: bool = False
    acceptance_hours: int | None = None


DEFAULT_POOL = Pool()


@dataclass(frozen=True)
class Rule:
    """A rule's conditions and pool, as routing sees them."""

    pool: Pool
    countries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    product_line_ids: frozenset[int] = frozenset()
    min_value: float | None = None
    max_value: float | None = None

    def matches(self, lead: LeadFacts) -> bool:
        if self.countries and lead.country not in self.countries:
            return False
        if self.regions and lead.region not in self.regions:
            return False
        if self.product_line_ids and lead.product_line_id not in self.product_line_ids:
            return False
        if self.min_value is not None and (lead.estimated_value is None or lead.estimated_value < self.min_value):
            return False
        return not (
            self.max_value is not None and (lead.estimated_value is None or lead.estimated_value > self.max_value)
        )


def match_rule(lead: LeadFacts, rules: Iterable[Rule]) -> Pool:
    """The pool of the first rule (in the given order) that matches, else DEFAULT_POOL."""
    for rule in rules:
        if rule.matches(lead):
            return rule.pool
    return DEFAULT_POOL


@dataclass
class Outcome:
    band: str
    partner_id: int | None
    candidates: list[dict] = field(default_factory=list)
    exclusions: dict = field(default_factory=dict)
    draw: float | None = None
    pool: Pool = DEFAULT_POOL
    candidate_count: int | None = 0  # partners in the band (the draw's pool); None for a manual offer


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def boost_factors(c: Candidate, pool: Pool) -> tuple[float, float]:
    acc = win = 1.0
    if pool.use_acceptance_boost:
        answered = c.accepted + c.declined + c.timed_out
        acc = 0.5 + (c.accepted + 1) / (answered + 2)
    if pool.use_win_boost:
        win = 0.5 + (c.won + 1) / (c.accepted + 2)
    return acc, win


def exclusion_reason(
    c: Candidate,
    lead: LeadFacts,
    pool: Pool,
    excluded_ids: frozenset[int] | set[int],
    open_extra: int = 0,
) -> str:
    """Why `c` may not get this lead, or "" when eligible. Checked in this order.
    `open_extra`: offers made to `c` earlier in the same batch (they count against capacity)."""
    if not c.is_active:
        return "inactive"
    if c.partner_id in excluded_ids:
        return "already_offered"
    if pool.partner_types and c.partner_type not in pool.partner_types:
        return "type"
    if pool.tier_ids and c.tier_id not in pool.tier_ids:
        return "tier"
    if (
        pool.require_specialisation
        and lead.product_line_id is not None
        and c.specialisations
        and lead.product_line_id not in c.specialisations
    ):
        return "specialisation"
    if c.capacity is not None and c.open_leads + open_extra >= c.capacity:
        return "capacity"
    if c.weight <= 0:
        return "zero_weight"
    return ""


def _distance(c: Candidate, lead: LeadFacts) -> float | None:
    if lead.latitude is None or lead.longitude is None or c.latitude is None or c.longitude is None:
        return None
    return haversine_km(lead.latitude, lead.longitude, c.latitude, c.longitude)


# A great circle between two points is at least as long as their difference in latitude (a
# meridian arc), so a partner farther than the local radius in latitude alone needs no
# haversine. The 1 km margin keeps float rounding on the right side of the radius.
_KM_PER_DEGREE_LATITUDE = 6371.0088 * math.pi / 180
_LOCAL_LATITUDE_DEGREES = (LOCAL_RADIUS_KM + 1.0) / _KM_PER_DEGREE_LATITUDE


def _partner_id(c: Candidate) -> int:
    return c.partner_id


def route(
    lead: LeadFacts,
    candidates: Sequence[Candidate],
    pool: Pool,
    rng: random.Random,
    *,
    excluded_ids: frozenset[int] | set[int] = frozenset(),
    sample_size: int = EXCLUSION_SAMPLE,
    open_extra: Mapping[int, int] | None = None,
    shown: int = SHOWN_CANDIDATES,
) -> Outcome:
    """Decide one lead. `candidates` may include partners abroad (for the abroad band);
    `excluded_ids` are the partners already offered this lead; `open_extra` the offers made
    per partner earlier in the same batch (capacity). Never raises for "nobody".

    The outcome lists at most `shown` candidates of the band (the highest weights, ties by
    partner id) plus the chosen partner when it is not among them, each with its probability
    over the WHOLE band; `candidate_count` says how many partners the draw was among."""
    counts: Counter[str] = Counter()
    sample: list[dict] = []
    home: list[Candidate] = []
    abroad: list[Candidate] = []
    extra = open_extra or {}
    country = lead.country
    for c in sorted(candidates, key=_partner_id):
        reason = exclusion_reason(c, lead, pool, excluded_ids, extra.get(c.partner_id, 0) if extra else 0)
        if reason:
            counts[reason] += 1
            if len(sample) < sample_size:
                sample.append({"partner_id": c.partner_id, "name": c.name, "reason": reason})
            continue
        (home if c.country == country else abroad).append(c)

    located = lead.latitude is not None and lead.longitude is not None
    distances: dict[int, float] = {}  # partner id → km, for the partners measured
    band, chosen_band = BAND_NONE, []
    if home:
        local = []
        if located:
            lat, lon = lead.latitude, lead.longitude
            for c in home:
                if c.latitude is None or c.longitude is None or abs(c.latitude - lat) > _LOCAL_LATITUDE_DEGREES:
                    continue
                d = distances[c.partner_id] = haversine_km(lat, lon, c.latitude, c.longitude)
                if d <= LOCAL_RADIUS_KM:
                    local.append(c)
        if local:
            band, chosen_band = BAND_DISTANCE, local
        else:
            band, chosen_band = BAND_COUNTRY, home
    elif abroad and pool.allow_abroad:
        if located:
            for c in abroad:
                d = _distance(c, lead)
                if d is not None:
                    distances[c.partner_id] = d
            if distances:
                nearest = min(distances.values())
                chosen_band = [c for c in abroad if distances.get(c.partner_id, math.inf) <= nearest + ABROAD_SLACK_KM]
        else:
            chosen_band = [c for c in abroad if lead.region and c.region == lead.region]
        if chosen_band:
            band = BAND_ABROAD
    if band in (BAND_COUNTRY, BAND_DISTANCE):
        counts_out = len(home) - len(chosen_band)
        if counts_out:
            counts["farther_in_country"] += counts_out
        if abroad:
            counts["abroad_not_needed"] += len(abroad)
    elif band == BAND_ABROAD:
        if len(abroad) - len(chosen_band):
            counts["farther_abroad"] += len(abroad) - len(chosen_band)
    elif abroad and not pool.allow_abroad:
        counts["abroad_not_allowed"] += len(abroad)
    elif abroad:
        counts["abroad_out_of_reach"] += len(abroad)

    # Weights of the whole band (in partner id order: the order the draw walks).
    boosted = pool.use_acceptance_boost or pool.use_win_boost
    weights: list[float] = []
    for c in chosen_band:
        if boosted:
            acc, win = boost_factors(c, pool)
            weights.append(c.weight * acc * win)
        else:
            weights.append(float(c.weight))
    total = sum(weights)
    exclusions = {"counts": dict(sorted(counts.items())), "sample": sample}
    if not chosen_band or total <= 0:
        rows = [_row(c, w, None, lead, pool, distances, extra) for c, w in _top(chosen_band, weights, shown, None)]
        return Outcome(
            band=BAND_NONE,
            partner_id=None,
            candidates=rows,
            exclusions=exclusions,
            pool=pool,
            candidate_count=len(chosen_band),
        )
    draw = rng.random()
    partner_id = pick_weighted(
        [(c.partner_id, round(w, 6) if boosted else w) for c, w in zip(chosen_band, weights, strict=True)], draw
    )
    rows = [_row(c, w, total, lead, pool, distances, extra) for c, w in _top(chosen_band, weights, shown, partner_id)]
    return Outcome(
        band=band,
        partner_id=partner_id,
        candidates=rows,
        exclusions=exclusions,
        draw=round(draw, 12),
        pool=pool,
        candidate_count=len(chosen_band),
    )


def _top(band: list[Candidate], weights: list[float], shown: int, chosen: int | None) -> list[tuple[Candidate, float]]:
    """The `shown` heaviest of the band (ties: lower partner id first), plus `chosen` when it
    is not among them."""
    pairs = list(zip(band, weights, strict=True))
    top = heapq.nsmallest(shown, pairs, key=lambda cw: (-cw[1], cw[0].partner_id)) if len(pairs) > shown else pairs
    if chosen is not None and all(c.partner_id != chosen for c, _w in top):
        top.append(next((c, w) for c, w in pairs if c.partner_id == chosen))
    return top


def _row(
    c: Candidate,
    weight: float,
    total: float | None,
    lead: LeadFacts,
    pool: Pool,
    distances: dict[int, float],
    open_extra: Mapping[int, int],
) -> dict:
    acc, win = boost_factors(c, pool)
    d = distances.get(c.partner_id)
    if d is None:
        d = _distance(c, lead)
    row = {
        "partner_id": c.partner_id,
        "public_id": c.public_id,
        "name": c.name,
        "base_weight": c.weight,
        "acceptance_boost": round(acc, 4),
        "win_boost": round(win, 4),
        "weight": round(weight, 6) if total else weight,
        "distance_km": None if d is None else round(d, 1),
        "open_leads": c.open_leads + open_extra.get(c.partner_id, 0),
        "capacity": c.capacity,
    }
    if total:
        row["probability"] = round(weight / total, 6)
    return row


def pick_weighted(items: Sequence[tuple[int, float]], draw: float) -> int:
    """The item whose cumulative-weight interval contains draw × total (draw in [0, 1)).
    Zero-weight items have empty intervals and are never picked."""
    total = sum(w for _, w in items)
    target = draw * total
    cumulative = 0.0
    last = None
    for key, weight in items:
        if weight <= 0:
            continue
        cumulative += weight
        last = key
        if target < cumulative:
            return key
    return last  # floating-point edge: draw × total rounded up to total
