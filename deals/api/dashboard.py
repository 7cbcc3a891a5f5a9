"""Dashboard, forecasts, health, KPI and commit endpoints: thin adapters over deals.dashboard
(reads, scoping) and deals.services (partner_commit_set). Money is in the base currency unless
a field says otherwise; decimals are strings."""

from __future__ import annotations

import uuid

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from deals import dashboard, services
from deals.models import ForecastSnapshot, PartnerCommit
from partners import selectors as partner_selectors
from partners.api.views import PRMViewSet
from partners.models import PartnerType, Region
from prm.api import IsStaffOrPartnerUser, IsVendorStaff
from prm.api_docs import error_response, named_choice_field
from prm.models import Currency, User

MONEY = {"max_digits": 18, "decimal_places": 2}
NOT_FOUND = {404: error_response("Not found, or not yours to see.")}


# --- serializers -----------------------------------------------------------------------------


class DashboardQuerySerializer(serializers.Serializer):
    period_start = serializers.DateField(required=False)
    period_end = serializers.DateField(required=False)
    region = serializers.ChoiceField(choices=Region.choices, required=False)
    tier = serializers.IntegerField(required=False, min_value=1, help_text="Tier id.")
    partner_type = serializers.ChoiceField(choices=PartnerType.choices, required=False)
    manager = serializers.UUIDField(required=False, help_text="A channel manager's public id.")

    def validate(self, attrs):
        start, end = attrs.get("period_start"), attrs.get("period_end")
        if start and end and start > end:
            raise serializers.ValidationError({"period_end": [_("The period ends before it starts.")]})
        return attrs


class CardSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    count = serializers.IntegerField()
    url = serializers.CharField()
    urgent = serializers.IntegerField()
    urgent_label = serializers.CharField()
    order = serializers.IntegerField()
    icon = serializers.CharField()


class StageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()
    value = serializers.DecimalField(**MONEY)
    weighted = serializers.DecimalField(**MONEY)


class QuarterSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    quarter = serializers.IntegerField()
    label = serializers.CharField()
    weighted = serializers.DecimalField(**MONEY)
    forecast = serializers.DecimalField(**MONEY, allow_null=True)
    target = serializers.DecimalField(**MONEY)
    commit = serializers.DecimalField(**MONEY)


class TierSeriesSerializer(serializers.Serializer):
    tier = serializers.CharField()
    tier_id = serializers.IntegerField(allow_null=True)
    values = serializers.ListField(child=serializers.DecimalField(**MONEY))


class RevenueByTierSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField())
    months = serializers.ListField(child=serializers.DateField())
    series = TierSeriesSerializer(many=True)


class ConcentrationSerializer(serializers.Serializer):
    partners = serializers.IntegerField()
    partners_with_revenue = serializers.IntegerField()
    total = serializers.DecimalField(**MONEY)
    top5_share = serializers.FloatField(allow_null=True, help_text="Fraction 0–1.")
    top20_share = serializers.FloatField(allow_null=True, help_text="Fraction 0–1.")
    curve = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()), help_text="[% of partners, % of revenue]"
    )


class ActiveDormantSerializer(serializers.Serializer):
    label = serializers.CharField()
    month = serializers.DateField()
    active = serializers.IntegerField()
    dormant = serializers.IntegerField()


class DashboardSerializer(serializers.Serializer):
    scope_partners = serializers.IntegerField()
    active_partners = serializers.IntegerField()
    dormant_partners = serializers.IntegerField()
    cards = CardSerializer(many=True)
    pipeline_by_stage = StageSerializer(many=True)
    pipeline_by_quarter = QuarterSerializer(many=True)
    revenue_by_tier_by_month = RevenueByTierSerializer()
    revenue_concentration = ConcentrationSerializer()
    active_dormant_by_month = ActiveDormantSerializer(many=True)


class SnapshotSerializer(serializers.ModelSerializer):
    partner = serializers.UUIDField(source="partner.public_id", allow_null=True, read_only=True)
    partner_name = serializers.CharField(source="partner.name", allow_null=True, read_only=True)
    error = serializers.DecimalField(max_digits=9, decimal_places=4, allow_null=True, read_only=True)

    class Meta:
        model = ForecastSnapshot
        fields = [
            "as_of",
            "partner",
            "partner_name",
            "year",
            "quarter",
            "weighted_pipeline",
            "forecast",
            "method",
            "error",
            "error_metric",
            "naive_forecast",
            "naive_error",
            "model_forecast",
            "model_error",
            "commit",
        ]
        read_only_fields = fields


class ComponentSerializer(serializers.Serializer):
    value = serializers.JSONField(allow_null=True)
    score = serializers.IntegerField()
    weight = serializers.FloatField()


class HealthSerializer(serializers.Serializer):
    partner = serializers.UUIDField(source="partner.public_id")
    score = serializers.IntegerField()
    band = serializers.CharField()
    breakdown = serializers.DictField(child=ComponentSerializer())
    computed_at = serializers.DateTimeField()


class KpiQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)
    quarter = serializers.IntegerField(required=False, min_value=1, max_value=4)


class KpiRowSerializer(serializers.Serializer):
    manager = serializers.UUIDField(source="manager.public_id")
    manager_name = serializers.CharField(source="manager.full_name")
    partners = serializers.IntegerField()
    active_partners = serializers.IntegerField()
    target = serializers.DecimalField(**MONEY, allow_null=True)
    revenue = serializers.DecimalField(**MONEY)
    fulfilment_pct = serializers.FloatField(allow_null=True)
    won_deals = serializers.IntegerField()
    average_deal_size = serializers.DecimalField(**MONEY, allow_null=True)
    revenue_last_year = serializers.DecimalField(**MONEY)
    growth_per_partner = serializers.DecimalField(**MONEY, allow_null=True)
    growth_pct = serializers.FloatField(allow_null=True)
    reviews_decided = serializers.IntegerField()
    sla_kept_pct = serializers.FloatField(allow_null=True)


class KpiSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    quarter = serializers.IntegerField()
    managers = KpiRowSerializer(many=True)


class CommitSerializer(serializers.ModelSerializer):
    currency = named_choice_field("Currency", Currency.choices, read_only=True)
    id = serializers.UUIDField(source="public_id", read_only=True)
    partner = serializers.UUIDField(source="partner.public_id", read_only=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    entered_by = serializers.CharField(source="entered_by.full_name", read_only=True, allow_null=True)

    class Meta:
        model = PartnerCommit
        fields = ["id", "partner", "partner_name", "year", "quarter", "amount", "currency", "entered_by", "updated_at"]
        read_only_fields = fields


class CommitWriteSerializer(serializers.Serializer):
    partner = serializers.UUIDField(required=False, help_text="Staff only: the partner's public id.")
    year = serializers.IntegerField()
    quarter = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = named_choice_field("Currency", Currency.choices)


# --- views -----------------------------------------------------------------------------------


def _filters(request) -> dashboard.DashboardFilters:
    query = DashboardQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    manager_id = None
    if data.get("manager"):
        manager_id = User.objects.filter(public_id=data["manager"]).values_list("pk", flat=True).first() or -1
    return dashboard.DashboardFilters(
        period_start=data.get("period_start"),
        period_end=data.get("period_end"),
        region=data.get("region", ""),
        tier_id=data.get("tier"),
        partner_type=data.get("partner_type", ""),
        manager_id=manager_id,
    )


class DashboardView(APIView):
    permission_classes = [IsVendorStaff]

    @extend_schema(
        summary="The numbers behind the staff dashboard (cards and charts), in your scope",
        parameters=[DashboardQuerySerializer],
        responses=DashboardSerializer,
    )
    def get(self, request):
        summary = dashboard.dashboard_summary(user=request.user, filters=_filters(request))
        return Response(DashboardSerializer(summary.as_dict()).data)


@extend_schema_view(
    list=extend_schema(
        summary="Forecast snapshots of the latest run (staff: total and every partner; partner users: their own)",
        parameters=[
            OpenApiParameter("partner", str, description="A partner's public id (staff)."),
            OpenApiParameter("as_of", str, description="A run date (YYYY-MM-DD); default the latest finished run."),
        ],
    )
)
class ForecastViewSet(mixins.ListModelMixin, PRMViewSet):
    queryset = ForecastSnapshot.objects.none()
    serializer_class = SnapshotSerializer
    permission_classes = [IsStaffOrPartnerUser]
    filter_backends = []

    def get_queryset(self):
        as_of = None
        if raw := self.request.query_params.get("as_of"):
            as_of = serializers.DateField().run_validation(raw)
        qs = dashboard.forecast_snapshots(user=self.request.user, as_of=as_of)
        if (partner := self.request.query_params.get("partner")) and self.request.user.is_vendor_staff:
            try:
                qs = qs.filter(partner__public_id=uuid.UUID(partner))
            except ValueError:
                raise serializers.ValidationError({"partner": [_("Not a valid id.")]}) from None
        return qs


class PartnerHealthView(APIView):
    permission_classes = [IsStaffOrPartnerUser]

    @extend_schema(
        summary="A partner's health score and its breakdown (staff: any partner; partner users: their own)",
        responses={200: HealthSerializer, **NOT_FOUND},
    )
    def get(self, request, id):
        partner = partner_selectors.partner_get_for_user(user=request.user, public_id=id)
        health = dashboard.partner_health_get(partner=partner)
        if health is None:
            raise Http404
        return Response(HealthSerializer(health).data)


class KpiView(APIView):
    permission_classes = [IsVendorStaff]

    @extend_schema(
        summary="Manager KPI scorecard for a quarter (default: the current one), managers in your scope",
        parameters=[KpiQuerySerializer],
        responses=KpiSerializer,
    )
    def get(self, request):
        query = KpiQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        year, quarter = dashboard.quarter_of(timezone.localdate())
        year, quarter = query.validated_data.get("year", year), query.validated_data.get("quarter", quarter)
        rows = dashboard.kpi_scorecard(user=request.user, year=year, quarter=quarter)
        return Response(KpiSerializer({"year": year, "quarter": quarter, "managers": rows}).data)


@extend_schema_view(
    list=extend_schema(summary="Partner commits (staff: all; partner users: their own company's)"),
    create=extend_schema(
        summary="Set the commit for a current or coming quarter (partner admins for their company; staff)",
        description="Creates or replaces the one commit of the partner for that quarter: 201 when this call "
        "created it, 200 when it replaced it — also when two calls race, the second gets 200 and the same row "
        "(the database's unique key decides; the later amount wins).",
        request=CommitWriteSerializer,
        responses={200: CommitSerializer, 201: CommitSerializer},
    ),
)
class CommitViewSet(mixins.ListModelMixin, PRMViewSet):
    queryset = PartnerCommit.objects.none()
    serializer_class = CommitSerializer
    permission_classes = [IsStaffOrPartnerUser]
    filter_backends = []

    def get_queryset(self):
        return dashboard.partner_commit_list(user=self.request.user)

    def create(self, request):
        data = self.parse(CommitWriteSerializer)
        if request.user.is_vendor_staff:
            if not data.get("partner"):
                raise serializers.ValidationError({"partner": [_("Choose a partner.")]})
            partner = partner_selectors.partner_get_for_user(user=request.user, public_id=data["partner"])
        else:
            partner = request.user.partner
        commit, created = services.partner_commit_upsert(
            actor=request.user,
            partner=partner,
            year=data["year"],
            quarter=data["quarter"],
            amount=data["amount"],
            currency=data["currency"],
        )
        return self.render(commit, status.HTTP_201_CREATED if created else status.HTTP_200_OK)
