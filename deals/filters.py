"""django-filter FilterSets for the deals API. They validate and document query parameters;
each view's queryset already comes scoped to the user from deals.selectors, and the meaning of
the shared filters lives in `selectors.deal_list_for_user` (the cabinet and staff pages use it too)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from deals import selectors
from deals.models import Conflict, ConflictOutcome, ConflictStatus, DealRegistration, DealStage, DealStatus


class DealFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=DealStatus.choices, method="noop", label=_("Status (repeat for several)")
    )
    stage = django_filters.ChoiceFilter(choices=DealStage.choices, method="noop")
    q = django_filters.CharFilter(method="noop", label=_("Search reference, customer name or opportunity"))
    partner = django_filters.UUIDFilter(field_name="partner__public_id", label=_("Partner id (staff)"))
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    expected_close_from = django_filters.DateFilter(method="noop", label=_("Expected close on or after"))
    expected_close_to = django_filters.DateFilter(method="noop", label=_("Expected close on or before"))

    class Meta:
        model = DealRegistration
        fields = []

    def noop(self, queryset, name, value):
        # Applied together in filter_queryset through the selector.
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        shared = {
            "status": data.get("status") or None,
            "stage": data.get("stage") or None,
            "q": data.get("q") or None,
            "expected_close_from": data.get("expected_close_from"),
            "expected_close_to": data.get("expected_close_to"),
        }
        shared = {k: v for k, v in shared.items() if v}
        if not shared:
            return queryset
        # Intersect with the view's queryset so scoping, annotations and prefetching stay the view's.
        return queryset & selectors.deal_list_for_user(self.request.user, shared)


class ConflictFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ConflictStatus.choices)
    outcome = django_filters.ChoiceFilter(choices=ConflictOutcome.choices)

    class Meta:
        model = Conflict
        fields = []
