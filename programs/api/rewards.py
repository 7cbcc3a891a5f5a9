"""The rewards API: `/api/v1/rewards/` (the catalogue; staff create and change items) and
`/api/v1/redemptions/` (partner admins ask for a reward; staff approve, fulfil or reject; a
partner admin of the same partner cancels while it is still requested). Thin adapters: querysets and lookups come from
programs.selectors (another partner's redemption is a 404), writes from programs.services
(StateError → 409 "already decided", ApplicationError → 400 with the reason in words)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.routers import SimpleRouter

from partners.api.serializers import PartnerRefSerializer, UserRefSerializer
from partners.api.views import CONFLICT, IsPartnerAdmin, PRMViewSet
from prm.api import IsStaffOrPartnerUser, IsVendorStaff
from prm.api_docs import named_choice_field
from programs import selectors, services
from programs.models import (
    REDEMPTION_TEXT_MAX_LENGTH,
    REWARD_DESCRIPTION_MAX_LENGTH,
    REWARD_MAX_POINTS_COST,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardCategory,
)

# --- serializers ------------------------------------------------------------------------------


class RewardSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)
    display_name = serializers.SerializerMethodField()
    name_i18n = serializers.DictField(child=serializers.CharField(), read_only=True)
    description = serializers.CharField(read_only=True)
    category = named_choice_field("RewardCategory", RewardCategory.choices, read_only=True)
    points_cost = serializers.IntegerField(read_only=True)
    stock = serializers.IntegerField(read_only=True, allow_null=True, help_text="null = unlimited")
    active = serializers.BooleanField(read_only=True)

    class Meta:
        ref_name = "Reward"

    def get_display_name(self, reward) -> str:
        return reward.display_name()


class RewardWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    name_i18n = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    description = serializers.CharField(max_length=REWARD_DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    category = named_choice_field("RewardCategory", RewardCategory.choices)
    points_cost = serializers.IntegerField(min_value=1, max_value=REWARD_MAX_POINTS_COST)
    stock = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    active = serializers.BooleanField(required=False)

    class Meta:
        ref_name = "RewardWrite"


class RedemptionRewardRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)
    category = named_choice_field("RewardCategory", RewardCategory.choices, read_only=True)

    class Meta:
        ref_name = "RewardRef"


class RedemptionSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    reward = RedemptionRewardRefSerializer(read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    points = serializers.IntegerField(read_only=True)
    status = named_choice_field("RedemptionStatus", RedemptionStatus.choices, read_only=True)
    requested_by = UserRefSerializer(read_only=True)
    note = serializers.CharField(read_only=True)
    decision_reason = serializers.CharField(read_only=True)
    decided_by = UserRefSerializer(read_only=True, allow_null=True)
    decided_at = serializers.DateTimeField(read_only=True, allow_null=True)
    fulfilled_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)

    class Meta:
        ref_name = "Redemption"


class RedemptionCreateSerializer(serializers.Serializer):
    reward = serializers.UUIDField(help_text="The reward's id.")
    quantity = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    note = serializers.CharField(max_length=REDEMPTION_TEXT_MAX_LENGTH, required=False, allow_blank=True, default="")

    class Meta:
        ref_name = "RedemptionCreate"


class RedemptionRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REDEMPTION_TEXT_MAX_LENGTH, help_text="Why; the partner sees it.")

    class Meta:
        ref_name = "RedemptionReject"


# --- views ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="The rewards catalogue (staff also see withdrawn items)"),
    retrieve=extend_schema(summary="A reward"),
    create=extend_schema(
        summary="Add a reward (staff)", request=RewardWriteSerializer, responses={201: RewardSerializer}
    ),
    update=extend_schema(summary="Replace a reward (staff)", request=RewardWriteSerializer),
    partial_update=extend_schema(summary="Change a reward (staff)", request=RewardWriteSerializer),
)
class RewardViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Reward.objects.none()  # the model, for the schema; get_queryset comes from selectors
    serializer_class = RewardSerializer
    filterset_fields = ["category", "active"]
    ordering_fields = ["points_cost", "name", "created_at"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {"create": [IsVendorStaff], "update": [IsVendorStaff], "partial_update": [IsVendorStaff]}

    def get_queryset(self):
        return selectors.reward_list(user=self.request.user, include_inactive=True)

    def get_object_for_user(self, user, public_id):
        return selectors.reward_get_for_user(user=user, public_id=public_id)

    def create(self, request):
        data = self.parse(RewardWriteSerializer)
        reward = services.reward_create(actor=request.user, **data)
        return self.render(reward, status.HTTP_201_CREATED)

    def update(self, request, id=None, partial=False):
        reward = self.get_object()
        data = self.parse(RewardWriteSerializer, partial=partial)
        reward = services.reward_update(actor=request.user, reward=reward, **data)
        return self.render(reward)

    def partial_update(self, request, id=None):
        return self.update(request, id=id, partial=True)


@extend_schema_view(
    list=extend_schema(summary="Redemptions you can see (partner users: their company's; staff: all)"),
    retrieve=extend_schema(summary="A redemption"),
)
class RedemptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Redemption.objects.none()
    serializer_class = RedemptionSerializer
    filterset_fields = ["status"]
    ordering_fields = ["created_at", "points", "decided_at"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {
        "create": [IsPartnerAdmin],
        "approve": [IsVendorStaff],
        "fulfil": [IsVendorStaff],
        "reject": [IsVendorStaff],
        "cancel": [IsPartnerAdmin],
    }

    def get_queryset(self):
        return selectors.redemption_list_for_user(user=self.request.user)

    def get_object_for_user(self, user, public_id):
        return selectors.redemption_get_for_user(user=user, public_id=public_id)

    def _fresh(self, redemption):
        return selectors.redemption_get_for_user(user=self.request.user, public_id=redemption.public_id)

    @extend_schema(
        summary="Redeem points for a reward (partner admin); the points are debited at once",
        description="400 with code `insufficient_points`, `out_of_stock` or `reward_inactive` when it cannot be done.",
        request=RedemptionCreateSerializer,
        responses={201: RedemptionSerializer},
    )
    def create(self, request):
        data = self.parse(RedemptionCreateSerializer)
        reward = selectors.reward_get_for_user(user=request.user, public_id=data["reward"])
        redemption = services.redemption_request(
            actor=request.user, reward=reward, quantity=data["quantity"], note=data["note"]
        )
        return self.render(self._fresh(redemption), status.HTTP_201_CREATED)

    def _transition(self, service, **kwargs):
        redemption = self.get_object()
        redemption = service(actor=self.request.user, redemption=redemption, **kwargs)
        return self.render(self._fresh(redemption))

    @extend_schema(summary="Approve (staff)", request=None, responses={200: RedemptionSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def approve(self, request, id=None):
        return self._transition(services.redemption_approve)

    @extend_schema(
        summary="Mark as fulfilled (staff), once approved",
        request=None,
        responses={200: RedemptionSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def fulfil(self, request, id=None):
        return self._transition(services.redemption_fulfil)

    @extend_schema(
        summary="Reject (staff) with a reason; the points are returned and the stock restored",
        request=RedemptionRejectSerializer,
        responses={200: RedemptionSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, id=None):
        data = self.parse(RedemptionRejectSerializer)
        return self._transition(services.redemption_reject, reason=data["reason"])

    @extend_schema(
        summary="Cancel while still requested (partner admins of the partner); the points are returned",
        description="Any partner admin of the redemption's partner may cancel it, not only the one who asked; "
        "partner reps and staff get 403, another partner's users 404. The stock is restored.",
        request=None,
        responses={200: RedemptionSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, id=None):
        return self._transition(services.redemption_cancel)


router = SimpleRouter()
router.register("rewards", RewardViewSet, basename="reward")
router.register("redemptions", RedemptionViewSet, basename="redemption")

urlpatterns = router.urls
