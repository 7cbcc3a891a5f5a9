"""django-filter FilterSets for the partners API. They validate and document query parameters;
each view's queryset already comes scoped to the user from partners.selectors."""

import uuid

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from rest_framework.filters import OrderingFilter

from partners import selectors
from partners.models import (
    Agreement,
    AgreementStatus,
    Contact,
    ContactRole,
    Interaction,
    InteractionKind,
    Partner,
    PartnerStatus,
    PartnerType,
    Region,
)
from prm.models import PARTNER_ROLES, User


class StableOrderingFilter(OrderingFilter):
    """Orders by the requested fields, then by primary key: when sort keys tie, pages neither
    repeat nor skip rows."""

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if ordering:
            return queryset.order_by(*ordering, "pk")
        return queryset


def validate_owner(value: str) -> None:
    if value in ("me", "none"):
        return
    try:
        uuid.UUID(value)
    except ValueError:
        raise ValidationError(_("Give a user id, “me” or “none”.")) from None


class PartnerFilterSet(django_filters.FilterSet):
    """The partner list's filters. Their meaning lives in `selectors.partner_list` (shared with the
    staff pages), so this set parses the parameters and hands them over."""

    q = django_filters.CharFilter(label=_("Search name, legal name, tax id, domain or city"))
    tier = django_filters.CharFilter(field_name="tier__code", label=_("Tier code, or “none”"))
    partner_type = django_filters.ChoiceFilter(choices=PartnerType.choices)
    status = django_filters.ChoiceFilter(choices=PartnerStatus.choices)
    owner = django_filters.CharFilter(
        field_name="owner__public_id", validators=[validate_owner], label=_("Owner's user id, “me” or “none”")
    )
    region = django_filters.ChoiceFilter(choices=Region.choices)
    country = django_filters.CharFilter(max_length=2, label=_("ISO 3166 two-letter code"))
    is_dormant = django_filters.BooleanFilter()
    is_key_account = django_filters.BooleanFilter()

    class Meta:
        model = Partner
        fields = []

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        filters = selectors.PartnerFilters(
            q=data.get("q") or "",
            tier=data.get("tier") or "",
            partner_type=data.get("partner_type") or "",
            status=data.get("status") or "",
            owner=data.get("owner") or "",
            region=data.get("region") or "",
            country=data.get("country") or "",
            dormant=data.get("is_dormant"),
            key_account=data.get("is_key_account"),
        )
        # Intersect with the view's queryset so scoping and prefetching stay the view's.
        return queryset & selectors.partner_list(user=self.request.user, filters=filters)


class ContactFilterSet(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner__public_id", label=_("Partner id"))
    role = django_filters.ChoiceFilter(choices=ContactRole.choices)
    is_active = django_filters.BooleanFilter()
    is_decision_maker = django_filters.BooleanFilter()
    q = django_filters.CharFilter(method="filter_q", label=_("Search name, e-mail or job title"))

    class Meta:
        model = Contact
        fields = []

    def filter_q(self, queryset, name, value: str):
        value = value.strip()
        return queryset.filter(
            Q(full_name__icontains=value) | Q(email__icontains=value) | Q(job_title__icontains=value)
        )


class AgreementFilterSet(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner__public_id", label=_("Partner id"))
    status = django_filters.ChoiceFilter(choices=AgreementStatus.choices)
    auto_renew = django_filters.BooleanFilter()
    ends_before = django_filters.DateFilter(field_name="ends_on", lookup_expr="lte")
    ends_after = django_filters.DateFilter(field_name="ends_on", lookup_expr="gte")

    class Meta:
        model = Agreement
        fields = []


class InteractionFilterSet(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner__public_id", label=_("Partner id"))
    kind = django_filters.ChoiceFilter(choices=InteractionKind.choices)
    author = django_filters.CharFilter(
        method="filter_author", validators=[validate_owner], label=_("Author's user id, “me” or “none”")
    )
    has_open_step = django_filters.BooleanFilter(method="filter_has_open_step", label=_("Has an open next step"))
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Interaction
        fields = []

    def filter_author(self, queryset, name, value: str):
        if value == "me":
            return queryset.filter(author=self.request.user)
        if value == "none":
            return queryset.filter(author__isnull=True)
        return queryset.filter(author__public_id=value)

    def filter_has_open_step(self, queryset, name, value: bool | None):
        if value is None:
            return queryset
        open_step = queryset.exclude(next_step="").filter(next_step_done_at__isnull=True)
        if value:
            return open_step
        return queryset.exclude(pk__in=open_step.values("pk"))


class PartnerUserFilterSet(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner__public_id", label=_("Partner id"))
    role = django_filters.ChoiceFilter(choices=[(r.value, r.label) for r in PARTNER_ROLES])
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = User
        fields = []
