"""The lead routing engine: pure functions over in-memory rows, no database.

Deterministic for a given `random.Random`: the same lead, candidates, rule and generator state
give the same decision. deals.services.lead_routing loads the rows (a bounded number of
queries, whatever the number of partners) and stores the `Outcome` as a RoutingDecision.

Many leads against the same partners (a batch): pass a `CandidateSet`. It works out once per
rule pool, lead country and product line what does not depend on the lead (the pool's filters,
zero weights, the home band's weights and draw walk, partners sorted by latitude), so a lead
costs its own exclusions, the distances near it and the few rows it lists — not a pass over
every partner of its country. A plain list gives the same decisions, screened for that lead.

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
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from operator import attrgetter

LOCAL_RADIUS_KM = 150.0
ABROAD_SLACK_KM = 100.0
EXCLUSION_SAMPLE = 20
# The explanation lists this many of the band's candidates (the heaviest) plus the chosen one;
# a country band can hold hundreds, and each decision is stored.
SHOWN_CANDIDATES = 5

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

    # The boosts depend on the partner alone; a candidate is built once and scored for many
    # leads, so they are computed once (cached_property writes around the frozen __setattr__).
    @cached_property
    def acceptance_boost(self) -> float:
        answered = self.accepted + self.declined + self.timed_out
        return 0.5 + (self.accepted + 1) / (answered + 2)

    @cached_property
    def win_boost(self) -> float:
        return 0.5 + (self.won + 1) / (self.accepted + 2)

    @cached_property
    def latitude_radians(self) -> tuple[float, float]:
        """(latitude in radians, its cosine); only for a partner with coordinates."""
        p = math.radians(self.latitude)
        return p, math.cos(p)


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
    p1, p2 = math.radians(lat1), math.radians(lat2)
    return _haversine(p1, math.cos(p1), lon1, p2, math.cos(p2), lon2)


def _haversine(p1: float, cos_p1: float, lon1: float, p2: float, cos_p2: float, lon2: float) -> float:
    """haversine_km with the latitudes in radians and their cosines given (a partner's are
    computed once, not once per lead)."""
    r = 6371.0088
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + cos_p1 * cos_p2 * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def boost_factors(c: Candidate, pool: Pool) -> tuple[float, float]:
    return (
        c.acceptance_boost if pool.use_acceptance_boost else 1.0,
        c.win_boost if pool.use_win_boost else 1.0,
    )


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
    reason = _pool_reason(c, lead, pool)
    if reason:
        return reason
    if c.capacity is not None and c.open_leads + open_extra >= c.capacity:
        return "capacity"
    if c.weight <= 0:
        return "zero_weight"
    return ""


def _pool_reason(c: Candidate, lead: LeadFacts, pool: Pool) -> str:
    """The rule pool's filters, in exclusion_reason's order: type, tier, specialisation."""
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
    return ""


_BY_PARTNER_ID = attrgetter("partner_id")


class CandidateSet:
    """Candidates sorted by partner id, for deciding many leads against the same partners: what
    does not depend on the lead's own state (its past offers, the partners' open offers) is
    worked out once per rule pool, lead country and product line, and reused (`_Screen`).
    `route` accepts a plain sequence too and then screens it for that one lead."""

    __slots__ = ("candidates", "_screens")

    def __init__(self, candidates: Iterable[Candidate]):
        self.candidates = sorted(candidates, key=_BY_PARTNER_ID)
        self._screens: dict[tuple, _Screen] = {}

    def __len__(self) -> int:
        return len(self.candidates)

    def screen(self, lead: LeadFacts, pool: Pool) -> _Screen:
        line = lead.product_line_id if pool.require_specialisation else None
        key = (pool, lead.country, line)
        screen = self._screens.get(key)
        if screen is None:
            screen = self._screens[key] = _Screen(self.candidates, lead, pool)
        return screen


class _Screen:
    """Verdicts on a CandidateSet for one (pool, lead country, product line) that hold for every
    such lead. `fixed`: partners out whatever the lead's state — inactive, filtered out by the
    pool, or of zero weight with no capacity — as (partner, reason) by partner id. `capped`:
    partners with a capacity, checked per lead (offers fill it). `home` / `abroad`: partners of
    positive weight not fixed out, in the lead's country or not, by partner id; a lead's own
    exclusions (past offers, full capacity) are taken out of them per lead."""

    __slots__ = ("fixed", "fixed_counts", "by_id", "capped", "home", "abroad", "_latitudes", "_home_draw", "_sample")

    def __init__(self, candidates: list[Candidate], lead: LeadFacts, pool: Pool):
        self.fixed: list[tuple[Candidate, str]] = []
        self.by_id: dict[int, tuple[Candidate, str]] = {}  # partner id → (partner, fixed reason or "")
        self.capped: list[Candidate] = []
        self.home: list[Candidate] = []
        self.abroad: list[Candidate] = []
        for c in candidates:
            if not c.is_active:
                reason = "inactive"
            else:
                reason = _pool_reason(c, lead, pool)
                if not reason and c.capacity is None and c.weight <= 0:
                    reason = "zero_weight"
            self.by_id[c.partner_id] = (c, reason)
            if reason:
                self.fixed.append((c, reason))
                continue
            if c.capacity is not None:
                self.capped.append(c)
            if c.weight > 0:
                (self.home if c.country == lead.country else self.abroad).append(c)
        self.fixed_counts: dict[str, int] = dict(Counter(reason for _c, reason in self.fixed))
        self._latitudes: tuple[list[float], list[Candidate]] | None = None
        self._home_draw: _Draw | None = None
        self._sample: tuple[int, list[dict]] | None = None

    def near(self, latitude: float) -> list[Candidate]:
        """The located `home` partners within _LOCAL_LATITUDE_DEGREES of `latitude` (the only
        ones that can be within the local radius), in no particular order."""
        if self._latitudes is None:
            located = sorted(
                (c for c in self.home if c.latitude is not None and c.longitude is not None),
                key=attrgetter("latitude"),
            )
            self._latitudes = ([c.latitude for c in located], located)
        lats, located = self._latitudes
        return located[
            bisect_left(lats, latitude - _LOCAL_LATITUDE_DEGREES) : bisect_right(
                lats, latitude + _LOCAL_LATITUDE_DEGREES
            )
        ]

    def fixed_sample(self, size: int) -> list[dict]:
        """The exclusion sample of a lead with no exclusions of its own: the first `size` fixed
        ones (a new list; its entries are shared between the leads, read-only)."""
        if self._sample is None or self._sample[0] != size:
            self._sample = (size, [_sample_entry(c, reason) for c, reason in self.fixed[:size]])
        return list(self._sample[1])

    def home_draw(self, pool: Pool) -> _Draw:
        if self._home_draw is None:
            self._home_draw = _Draw(self.home, pool)
        return self._home_draw


class _Draw:
    """A band's weights and the draw's walk over them, in partner id order. The weights are
    base × acceptance boost × win boost (a boost that is off is 1.0); the walk uses them rounded
    to 6 places when a boost is on, as the explanation stores them (`pick_weighted`'s rule,
    with its cumulative sums computed once: a band is drawn from for many leads)."""

    __slots__ = ("band", "weights", "total", "_keys", "_cumulative", "_listed_total", "_order")

    def __init__(self, band: list[Candidate], pool: Pool):
        acc_on, win_on = pool.use_acceptance_boost, pool.use_win_boost
        if acc_on and win_on:
            weights = [c.weight * c.acceptance_boost * c.win_boost for c in band]
        elif acc_on:
            weights = [c.weight * c.acceptance_boost for c in band]
        elif win_on:
            weights = [float(c.weight) * c.win_boost for c in band]
        else:
            weights = [float(c.weight) for c in band]
        self.band = band
        self.weights = weights
        self.total = sum(weights)
        listed = [round(w, 6) for w in weights] if acc_on or win_on else weights
        self._listed_total = sum(listed)
        self._keys: list[int] = []
        self._cumulative: list[float] = []
        cumulative = 0.0
        for c, w in zip(band, listed, strict=True):
            if w > 0:
                cumulative += w
                self._keys.append(c.partner_id)
                self._cumulative.append(cumulative)
        self._order: list[int] | None = None

    def pick(self, draw: float) -> int | None:
        """pick_weighted(band ids with listed weights, draw)."""
        if not self._keys:
            return None
        i = bisect_right(self._cumulative, draw * self._listed_total)
        return self._keys[i] if i < len(self._keys) else self._keys[-1]

    def top(self, shown: int, chosen: int | None) -> list[int]:
        """Indexes of the `shown` heaviest (ties: lower partner id first — the band is in id
        order and the sort is stable), plus that of `chosen` when not among them."""
        if len(self.band) <= shown:
            return list(range(len(self.band)))
        if self._order is None:
            negated = [-w for w in self.weights]
            self._order = sorted(range(len(self.band)), key=negated.__getitem__)
        top = self._order[:shown]
        if chosen is not None and all(self.band[i].partner_id != chosen for i in top):
            top.append(next(i for i, c in enumerate(self.band) if c.partner_id == chosen))
        return top


def _distance(c: Candidate, lead: LeadFacts) -> float | None:
    if lead.latitude is None or lead.longitude is None or c.latitude is None or c.longitude is None:
        return None
    return haversine_km(lead.latitude, lead.longitude, c.latitude, c.longitude)


# A great circle between two points is at least as long as their difference in latitude (a
# meridian arc), so a partner farther than the local radius in latitude alone needs no
# haversine. The 1 km margin keeps float rounding on the right side of the radius.
_KM_PER_DEGREE_LATITUDE = 6371.0088 * math.pi / 180
_LOCAL_LATITUDE_DEGREES = (LOCAL_RADIUS_KM + 1.0) / _KM_PER_DEGREE_LATITUDE


def _first_partner_id(entry: tuple[Candidate, str]) -> int:
    return entry[0].partner_id


def _sample_entry(c: Candidate, reason: str) -> dict:
    return {"partner_id": c.partner_id, "name": c.name, "reason": reason}


def route(
    lead: LeadFacts,
    candidates: Sequence[Candidate] | CandidateSet,
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
    extra = open_extra or {}
    cset = candidates if isinstance(candidates, CandidateSet) else CandidateSet(candidates)
    screen = cset.screen(lead, pool)
    counts = screen.fixed_counts.copy()
    # This lead's own exclusions, on top of the screen's fixed ones (exclusion_reason's order:
    # a past offer outranks the pool's filters, inactive outranks a past offer).
    relabelled: set[int] = set()  # fixed out, but offered this lead before: "already_offered"
    own: dict[int, tuple[Candidate, str]] = {}  # not fixed out, out for this lead
    for partner_id in excluded_ids:
        c, reason = screen.by_id.get(partner_id, (None, "inactive"))
        if reason == "inactive":  # inactive, or not a candidate at all
            continue
        if reason:
            counts[reason] -= 1
            counts["already_offered"] = counts.get("already_offered", 0) + 1
            relabelled.add(partner_id)
        else:
            own[partner_id] = (c, "already_offered")
    for c in screen.capped:  # active and through the pool's filters: capacity, then weight
        if c.partner_id not in own:
            if c.open_leads + (extra.get(c.partner_id, 0) if extra else 0) >= c.capacity:
                own[c.partner_id] = (c, "capacity")
            elif c.weight <= 0:
                own[c.partner_id] = (c, "zero_weight")
    for _c, reason in own.values():
        counts[reason] = counts.get(reason, 0) + 1
    if own:
        home = [c for c in screen.home if c.partner_id not in own]
        abroad = [c for c in screen.abroad if c.partner_id not in own]
    else:
        home, abroad = screen.home, screen.abroad
    # The first `sample_size` excluded partners by id: the screen's (relabelled) and this lead's.
    if own or relabelled:
        fixed_head = (
            (c, "already_offered" if c.partner_id in relabelled else reason) for c, reason in screen.fixed[:sample_size]
        )
        merged = heapq.merge(fixed_head, sorted(own.values(), key=_first_partner_id), key=_first_partner_id)
        sample = [_sample_entry(c, reason) for c, reason in islice(merged, sample_size)]
    else:
        sample = screen.fixed_sample(sample_size)

    located = lead.latitude is not None and lead.longitude is not None
    distances: dict[int, float] = {}  # partner id → km, for the partners measured
    band, chosen_band = BAND_NONE, []
    if home:
        local = []
        if located:
            lat, lon = lead.latitude, lead.longitude
            p1 = math.radians(lat)
            cos_p1 = math.cos(p1)
            for c in screen.near(lat):
                if c.partner_id in own:
                    continue
                p2, cos_p2 = c.latitude_radians
                d = distances[c.partner_id] = _haversine(p1, cos_p1, lon, p2, cos_p2, c.longitude)
                if d <= LOCAL_RADIUS_KM:
                    local.append(c)
            local.sort(key=_BY_PARTNER_ID)
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
    # The eligible partners left out by the bands (each reason is new to `counts` here).
    if band in (BAND_COUNTRY, BAND_DISTANCE):
        counts["farther_in_country"] = len(home) - len(chosen_band)
        counts["abroad_not_needed"] = len(abroad)
    elif band == BAND_ABROAD:
        counts["farther_abroad"] = len(abroad) - len(chosen_band)
    elif abroad and not pool.allow_abroad:
        counts["abroad_not_allowed"] = len(abroad)
    elif abroad:
        counts["abroad_out_of_reach"] = len(abroad)

    draw_over = screen.home_draw(pool) if chosen_band is screen.home else _Draw(chosen_band, pool)
    weights, total = draw_over.weights, draw_over.total
    exclusions = {"counts": {reason: n for reason, n in sorted(counts.items()) if n}, "sample": sample}
    if not chosen_band or total <= 0:
        rows = [
            _row(chosen_band[i], weights[i], None, lead, pool, distances, extra) for i in draw_over.top(shown, None)
        ]
        return Outcome(
            band=BAND_NONE,
            partner_id=None,
            candidates=rows,
            exclusions=exclusions,
            pool=pool,
            candidate_count=len(chosen_band),
        )
    draw = rng.random()
    partner_id = draw_over.pick(draw)
    rows = [
        _row(chosen_band[i], weights[i], total, lead, pool, distances, extra) for i in draw_over.top(shown, partner_id)
    ]
    return Outcome(
        band=band,
        partner_id=partner_id,
        candidates=rows,
        exclusions=exclusions,
        draw=round(draw, 12),
        pool=pool,
        candidate_count=len(chosen_band),
    )


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
