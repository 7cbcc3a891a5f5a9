"""Finding registrations that claim the same end customer.

Two steps, both index-only at 1M registrations / 200k customers:

1. candidate customers: ``tax_id = :t OR domain = :d OR normalized_name % :n`` (unique/btree
   indexes and the pg_trgm GIN index, combined by a BitmapOr), with the name similarity;
2. their active registrations (partial index on end_customer_id for submitted/approved),
   keeping only those that share a product (or where either side lists none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import Exists, FloatField, OuterRef, Q, Value
from django.db.models.functions import Cast

from deals.models import ACTIVE_STATUSES, DealProduct, DealRegistration, DealStatus, EndCustomer
from deals.normalize import CustomerKeys

from ._common import name_similarity_threshold, set_trigram_threshold

# A generic name can match many customers; beyond this many candidates the least similar
# names are dropped.
MAX_CANDIDATES = 1000


@dataclass(frozen=True)
class CustomerMatch:
    customer_id: int
    matched: tuple[str, ...]  # subset of ("tax_id", "domain", "name")
    similarity: float

    @property
    def strong(self) -> bool:
        return bool(self.matched)


@dataclass
class RegistrationMatch:
    registration: DealRegistration
    customer: CustomerMatch
    common_products: list[int] = field(default_factory=list)
    no_products: bool = False

    @property
    def evidence(self) -> dict:
        return {
            "matched": list(self.customer.matched),
            "similarity": round(self.customer.similarity, 3),
            "common_products": self.common_products,
            "no_products": self.no_products,
        }

    @property
    def similarity_decimal(self) -> Decimal:
        return Decimal(str(round(min(max(self.customer.similarity, 0.0), 1.0), 3)))


def candidate_customers(keys: CustomerKeys) -> list[CustomerMatch]:
    """Customers matching on tax id, domain, or name similarity ≥ DEAL_NAME_SIMILARITY.

    Needs atomic(): it sets pg_trgm.similarity_threshold for the transaction so the GIN index
    prunes by the same threshold the rule uses (filtering on similarity() afterwards would
    make Postgres recheck every row the default 0.3 lets through).
    """
    strong = name_similarity_threshold()
    condition = Q()
    if keys.tax_id:
        condition |= Q(tax_id=keys.tax_id)
    if keys.domain:
        condition |= Q(domain=keys.domain)
    if keys.name:
        set_trigram_threshold(strong)
        condition |= Q(normalized_name__trigram_similar=keys.name)
    if not condition:
        return []
    similarity = (
        TrigramSimilarity("normalized_name", keys.name) if keys.name else Cast(Value(0), output_field=FloatField())
    )
    rows = (
        EndCustomer.objects.filter(condition)
        .annotate(sim=similarity)
        .order_by("-sim", "pk")
        .values_list("pk", "tax_id", "domain", "sim")[: MAX_CANDIDATES * 2]
    )
    matches = []
    for pk, tax_id, domain, sim in rows:
        sim = float(sim or 0.0)
        matched = []
        if keys.tax_id and tax_id == keys.tax_id:
            matched.append("tax_id")
        if keys.domain and domain == keys.domain:
            matched.append("domain")
        if keys.name and sim >= strong:
            matched.append("name")
        if matched:
            matches.append(CustomerMatch(customer_id=pk, matched=tuple(matched), similarity=sim))
    matches.sort(key=lambda m: -m.similarity)
    return matches[:MAX_CANDIDATES]


def active_registrations_for(
    customers: list[CustomerMatch],
    *,
    product_ids: list[int],
    now,
    exclude_pk: int | None = None,
    exclude_partner_id: int | None = None,
    lock: bool = False,
    with_products: bool = True,
) -> list[RegistrationMatch]:
    """Active registrations of `customers` that overlap on products.

    Active = submitted, or approved with protection running (`protected_until > now`).
    Overlap = a product in common, or no products on either side. With `lock=True` the rows
    are locked FOR UPDATE, so a registration being rejected right now is seen after its commit.
    `with_products=False` skips loading the products in common (evidence only).
    """
    if not customers:
        return []
    by_customer = {c.customer_id: c for c in customers}
    qs = DealRegistration.objects.filter(end_customer_id__in=list(by_customer), status__in=ACTIVE_STATUSES).filter(
        Q(status=DealStatus.SUBMITTED) | Q(status=DealStatus.APPROVED, protected_until__gt=now)
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if exclude_partner_id is not None:
        qs = qs.exclude(partner_id=exclude_partner_id)
    if product_ids:
        has_products = Exists(DealProduct.objects.filter(registration_id=OuterRef("pk")))
        shares_product = Exists(DealProduct.objects.filter(registration_id=OuterRef("pk"), product_id__in=product_ids))
        qs = qs.filter(~has_products | shares_product)
    qs = qs.only(
        "pk",
        "reference",
        "public_id",
        "partner_id",
        "end_customer_id",
        "status",
        "submitted_at",
        "approved_at",
        "protected_until",
        "submitted_by_id",
    ).order_by("pk")
    if lock:
        qs = qs.select_for_update(of=("self",))
    registrations = list(qs)
    if not registrations:
        return []
    if not with_products:
        return [RegistrationMatch(registration=r, customer=by_customer[r.end_customer_id]) for r in registrations]
    products_of: dict[int, set[int]] = {r.pk: set() for r in registrations}
    for reg_id, product_id in DealProduct.objects.filter(registration_id__in=list(products_of)).values_list(
        "registration_id", "product_id"
    ):
        products_of[reg_id].add(product_id)
    mine = set(product_ids)
    out = []
    for reg in registrations:
        theirs = products_of[reg.pk]
        out.append(
            RegistrationMatch(
                registration=reg,
                customer=by_customer[reg.end_customer_id],
                common_products=sorted(mine & theirs),
                no_products=not mine or not theirs,
            )
        )
    return out
