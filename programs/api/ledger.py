"""The ledger API: `/api/v1/ledger/` (entries: partner users their company's own, staff all,
filterable by partner, kind, state, source and date) and `/api/v1/ledger/balance/` (a partner's
points balance and what expires soon; staff pass `?partner=<id>`). Read-only: writes happen
through services (accruals, adjustments on the staff pages, redemptions)."""

import django_filters
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from partners import selectors as partner_selectors
from partners.api.serializers import PartnerRefSerializer, UserRefSerializer
from partners.api.views import PRMViewSet
from prm.api import IsStaffOrPartnerUser
from prm.api_docs import error_response, named_choice_field
from programs import selectors
from programs.models import EarningEvent, EntryKind, EntryState, LedgerEntry, SourceType

# --- serializers ------------------------------------------------------------------------------


class RuleRefSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    event = named_choice_field("EarningEvent", EarningEvent.choices, read_only=True)

    class Meta:
        ref_name = "EarningRuleRef"


class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    user = UserRefSerializer(read_only=True, allow_null=True, help_text="The person credited; null = the company.")
    kind = named_choice_field("LedgerKind", EntryKind.choices, read_only=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True, help_text="Negative = debit.")
    unit = serializers.CharField(read_only=True, help_text='"points" or a currency code.')
    state = named_choice_field("LedgerState", EntryState.choices, read_only=True)
    source_type = named_choice_field("LedgerSource", SourceType.choices, read_only=True)
    rule = RuleRefSerializer(read_only=True, allow_null=True)
    description = serializers.SerializerMethodField(help_text="Why the entry exists: event, rule and calculation.")
    reverses = serializers.UUIDField(source="reverses.public_id", read_only=True, allow_null=True, default=None)
    occurred_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)

    class Meta:
        ref_name = "LedgerEntry"

    def get_description(self, entry) -> str:
        from programs.views.ledger_display import describe_entry

        return describe_entry(entry)


class ExpiringLotSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField()
    points = serializers.IntegerField()

    class Meta:
        ref_name = "ExpiringPoints"


class BalanceSerializer(serializers.Serializer):
    partner = PartnerRefSerializer()
    points = serializers.DecimalField(max_digits=16, decimal_places=2)
    expiring_points = serializers.IntegerField(help_text="Points that expire within expiring_days.")
    expiring_days = serializers.IntegerField()
    next_expiry = serializers.DateTimeField(allow_null=True, help_text="The soonest expiry with points left.")
    next_expiry_points = serializers.IntegerField()
    expiring = ExpiringLotSerializer(many=True)

    class Meta:
        ref_name = "PointsBalance"


# --- filters ---------------------------------------------------------------------------------


class LedgerFilterSet(django_filters.FilterSet):
    """Query parameters; the queryset is already scoped to the user (a partner user asking for
    another partner's entries gets an empty list)."""

    partner = django_filters.UUIDFilter(field_name="partner__public_id", help_text="A partner's id (staff).")
    user = django_filters.UUIDFilter(field_name="user__public_id", help_text="A person's id.")
    kind = django_filters.ChoiceFilter(choices=EntryKind.choices)
    state = django_filters.ChoiceFilter(choices=EntryState.choices)
    source_type = django_filters.ChoiceFilter(choices=SourceType.choices)
    occurred_after = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__gte")
    occurred_before = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__lte")

    class Meta:
        model = LedgerEntry
        fields = ["partner", "user", "kind", "state", "source_type", "occurred_after", "occurred_before"]


# --- views -----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Ledger entries you can see (partner users: their company's; staff: all)"),
    retrieve=extend_schema(summary="A ledger entry"),
)
class LedgerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = LedgerEntry.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerFilterSet
    ordering_fields = ["occurred_at", "amount", "created_at"]
    ordering = ["-occurred_at"]
    permission_classes = [IsStaffOrPartnerUser]

    def get_queryset(self):
        return selectors.ledger_list_for_user(user=self.request.user)

    def get_object_for_user(self, user, public_id):
        return selectors.ledger_entry_get_for_user(user=user, public_id=public_id)

    def list(self, request, *args, **kwargs):
        from programs.selectors.ledger_sources import attach_source_references

        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = attach_source_references(page if page is not None else list(queryset))
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(
        summary="A partner's points balance and the points expiring soon",
        description="Partner users get their own company's balance (a `partner` other than their own is a 404); "
        "staff must pass `partner`.",
        parameters=[
            OpenApiParameter("partner", OpenApiTypes.UUID, description="A partner's id (required for staff)."),
            OpenApiParameter("days", OpenApiTypes.INT, description="Expiry horizon in days (default 30)."),
        ],
        filters=False,
        responses={
            200: BalanceSerializer,
            400: error_response("`partner` missing (staff)"),
            404: error_response("No such partner"),
        },
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def balance(self, request):
        user = request.user
        partner_id = request.query_params.get("partner", "")
        if partner_id:
            partner = partner_selectors.partner_get_for_user(user=user, public_id=partner_id)
        elif user.is_partner_user:
            partner = user.partner
        else:
            raise ValidationError({"partner": [_("Give the partner's id.")]})
        try:
            days = int(request.query_params.get("days", 30))
        except ValueError:
            raise ValidationError({"days": [_("A whole number of days.")]}) from None
        if not 1 <= days <= 3650:
            raise ValidationError({"days": [_("Between 1 and 3650 days.")]})
        soon = selectors.points_expiring_soon(partner=partner, days=days)
        payload = {
            "partner": partner,
            "points": selectors.points_balance(partner=partner),
            "expiring_points": soon.points,
            "expiring_days": days,
            "next_expiry": soon.first_date,
            "next_expiry_points": soon.first_points,
            "expiring": [{"expires_at": when, "points": pts} for when, pts in soon.lots],
        }
        return Response(BalanceSerializer(payload).data)


router = SimpleRouter()
router.register("ledger", LedgerViewSet, basename="ledger")

urlpatterns = router.urls
