"""Tier API: the tier catalogue (thresholds and benefits; read-only, partners too), a partner's
tier progress (staff: any partner; partner users: only their own, others 404), setting a
partner's tier by hand (staff of its portfolio; recorded in the tier history) and an on-demand
evaluation (staff). Reads go through programs.selectors, writes through programs.services."""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from partners.api.serializers import PartnerSerializer
from partners.models import Tier
from partners.selectors import partner_get_for_user
from prm.api import IsStaffOrPartnerUser, IsVendorStaff
from programs import selectors, services
from programs.models import TIER_REASON_MAX_LENGTH


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        ref_name = "TierDefinition"
        fields = [
            "code",
            "name",
            "rank",
            "description",
            "min_revenue",
            "min_won_deals",
            "min_certified_people",
            "discount_pct",
            "protection_days",
            "max_extensions",
            "points_multiplier",
            "mdf_eligible",
            "mdf_share_pct",
        ]


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rank = serializers.IntegerField()

    class Meta:
        ref_name = "TierRankedRef"


class MetricsSerializer(serializers.Serializer):
    revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    won_deals = serializers.IntegerField()
    certified_people = serializers.IntegerField()


class GapSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=["revenue", "won_deals", "certified_people"])
    have = serializers.DecimalField(max_digits=18, decimal_places=2)
    need = serializers.DecimalField(max_digits=18, decimal_places=2)
    missing = serializers.DecimalField(max_digits=18, decimal_places=2)
    percent = serializers.IntegerField()
    text = serializers.CharField(help_text="What is missing, in words (empty when met).")

    def to_representation(self, gap):
        data = super().to_representation(gap)
        data["text"] = "" if gap.met else gap.text
        return data


class TierProgressSerializer(serializers.Serializer):
    partner = serializers.UUIDField(source="partner.public_id")
    tier = TierRefSerializer(allow_null=True)
    tier_since = serializers.DateField(allow_null=True)
    window_start = serializers.SerializerMethodField()
    window_end = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField()
    metrics = MetricsSerializer()
    qualifies_for = TierRefSerializer(source="qualified_tier", allow_null=True)
    next_tier = TierRefSerializer(allow_null=True)
    next_tier_gaps = GapSerializer(source="next_gaps", many=True)
    at_risk = serializers.BooleanField()
    at_risk_gaps = GapSerializer(source="keep_gaps", many=True)
    would_drop_to = serializers.SerializerMethodField()
    demotion_due_on = serializers.SerializerMethodField()
    locked = serializers.BooleanField()
    error = serializers.CharField()

    def get_window_start(self, obj) -> str:
        return obj.window[0].isoformat()

    def get_window_end(self, obj) -> str:
        return obj.window[1].isoformat()

    def get_currency(self, obj) -> str:
        from prm.money import base_currency

        return base_currency()

    @extend_schema_field(TierRefSerializer(allow_null=True))
    def get_would_drop_to(self, obj) -> dict | None:
        tier = obj.status.at_risk_tier if obj.at_risk else None
        return TierRefSerializer(tier).data if tier else None

    def get_demotion_due_on(self, obj) -> str | None:
        return obj.status.demotion_due_on.isoformat() if obj.at_risk else None


class EvaluationSummarySerializer(serializers.Serializer):
    evaluated = serializers.IntegerField()
    promoted = serializers.IntegerField()
    demoted = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    recovered = serializers.IntegerField()
    pending_approval = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.CharField(), help_text="Partner id → why it was skipped.")


class TierListView(ListAPIView):
    """Tiers in rank order with their thresholds and benefits."""

    permission_classes = [IsStaffOrPartnerUser]
    serializer_class = TierSerializer
    filter_backends = []

    def get_queryset(self):
        return Tier.objects.order_by("rank")

    @extend_schema(summary="Tiers with thresholds and benefits")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TierProgressView(APIView):
    permission_classes = [IsStaffOrPartnerUser]

    @extend_schema(
        summary="A partner's tier progress: numbers, next tier, what it lacks, at-risk, lock",
        responses=TierProgressSerializer,
    )
    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        return Response(TierProgressSerializer(selectors.tier_progress(partner=partner)).data)


class TierEvaluateView(APIView):
    permission_classes = [IsVendorStaff]

    @extend_schema(
        summary="Evaluate every partner's tier now (what the nightly job does)",
        request=None,
        responses=EvaluationSummarySerializer,
    )
    def post(self, request):
        summary = services.tiers_evaluate(actor=request.user)
        return Response(EvaluationSummarySerializer(summary.as_dict()).data)


class PartnerTierSetSerializer(serializers.Serializer):
    tier = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Tier.objects.order_by("rank"),
        allow_null=True,
        help_text="A tier code, or null for none.",
    )
    reason = serializers.CharField(max_length=TIER_REASON_MAX_LENGTH)

    class Meta:
        ref_name = "PartnerTierSet"


class PartnerTierSetView(APIView):
    """The one API door to a manual tier change (it used to be the partners API's, which wrote no
    history): programs.services.tier_set_manual records the TierChange and the audit row."""

    permission_classes = [IsVendorStaff]

    @extend_schema(
        summary="Set a partner's tier by hand, with a reason (recorded in the tier history)",
        description="Staff of the partner's portfolio (its channel manager, their channel lead, an "
        "administrator); other staff get 403. The rules still apply at the next evaluation unless the "
        "tier is locked. Answers the partner.",
        request=PartnerTierSetSerializer,
        responses={200: PartnerSerializer},
    )
    def post(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        data = PartnerTierSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.tier_set_manual(actor=request.user, partner=partner, **data.validated_data)
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        return Response(PartnerSerializer(partner, context={"request": request}).data)


urlpatterns = [
    path("tiers/", TierListView.as_view(), name="tier_list"),
    path("tiers/evaluate/", TierEvaluateView.as_view(), name="tier_evaluate"),
    path("partners/<uuid:public_id>/tier-progress/", TierProgressView.as_view(), name="partner_tier_progress"),
    path("partners/<uuid:public_id>/tier/", PartnerTierSetView.as_view(), name="partner-set-tier"),
]
