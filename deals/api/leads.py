"""The leads API: /api/v1/leads/ (staff create and list everything; partner users list the
leads offered to their partner), POST …/<id>/route/ (staff), …/accept/ and …/decline/ (the
partner the lead is offered to).

Confidentiality: `offered_to` and `routing` (the decisions with their score breakdown) are
rendered only for vendor staff. For a partner user `status` and `offer_expires_at` are those of
its own offer (offered, accepted, declined, expired, withdrawn): it never learns what happened
to the lead with other partners.
"""

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action

from deals import routing, services
from deals import selectors_leads as selectors
from deals.models import (
    LEAD_DESCRIPTION_MAX_LENGTH,
    LEAD_PHONE_MAX_LENGTH,
    LEAD_REASON_MAX_LENGTH,
    Lead,
    LeadOfferStatus,
    LeadSource,
    LeadStatus,
    ProductLine,
    RoutingBand,
)
from partners.api.serializers import PartnerRefSerializer
from partners.api.views import CONFLICT, PRMViewSet
from partners.models import Region
from prm.api import IsPartnerUser, IsStaffOrPartnerUser, IsVendorStaff
from prm.api_docs import named_choice_field
from prm.models import Currency

# Every status a lead can show: the lead's own for staff, the partner's offer for partners.
_SHOWN_STATUSES = list(dict.fromkeys([*LeadStatus.values, *LeadOfferStatus.values]))


def _is_staff(serializer) -> bool:
    request = serializer.context.get("request")
    return bool(request and request.user.is_authenticated and request.user.is_vendor_staff)


# --- output -------------------------------------------------------------------------------


class RoutingCandidateSerializer(serializers.Serializer):
    partner_id = serializers.IntegerField()
    public_id = serializers.CharField()
    name = serializers.CharField()
    base_weight = serializers.IntegerField(required=False)
    acceptance_boost = serializers.FloatField(required=False)
    win_boost = serializers.FloatField(required=False)
    weight = serializers.FloatField(required=False)
    probability = serializers.FloatField(required=False)
    distance_km = serializers.FloatField(required=False, allow_null=True)

    class Meta:
        ref_name = "LeadRoutingCandidate"


class RoutingDecisionSerializer(serializers.Serializer):
    attempt = serializers.IntegerField(read_only=True)
    decided_at = serializers.DateTimeField(source="created_at", read_only=True)
    rule = serializers.CharField(source="rule_name", read_only=True)
    band = named_choice_field("LeadRoutingBand", RoutingBand.choices, read_only=True)
    partner = PartnerRefSerializer(read_only=True, allow_null=True)
    manual = serializers.BooleanField(read_only=True)
    reason = serializers.CharField(read_only=True)
    draw = serializers.FloatField(read_only=True, allow_null=True)
    candidates = RoutingCandidateSerializer(
        many=True,
        read_only=True,
        help_text=f"The most likely candidates of the band (at most {routing.SHOWN_CANDIDATES}) and the chosen "
        "partner; `probability` is over the whole band.",
    )
    candidate_count = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="How many partners the band held (the draw was among all of them); null for a manual offer.",
    )
    exclusions = serializers.JSONField(read_only=True)

    class Meta:
        ref_name = "LeadRoutingDecision"


class LeadSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    reference = serializers.CharField(read_only=True)
    status = serializers.SerializerMethodField()
    customer_name = serializers.CharField(read_only=True)
    contact_name = serializers.CharField(read_only=True)
    contact_email = serializers.CharField(read_only=True)
    contact_phone = serializers.CharField(read_only=True)
    country = serializers.CharField(read_only=True)
    region = serializers.CharField(read_only=True)
    city = serializers.CharField(read_only=True)
    product_line = serializers.CharField(source="product_line.code", read_only=True, allow_null=True)
    estimated_value = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True, allow_null=True)
    currency = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    offer_expires_at = serializers.SerializerMethodField()
    offered_to = serializers.SerializerMethodField()
    registration = serializers.SerializerMethodField()

    class Meta:
        ref_name = "Lead"

    @extend_schema_field(
        {
            "type": "string",
            "enum": _SHOWN_STATUSES,
            "description": "Staff: the lead's status. Partner users: their own offer's status.",
        }
    )
    def get_status(self, obj):
        if _is_staff(self):
            return obj.status
        offer = selectors.my_offer(obj)
        return offer.status if offer else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_offer_expires_at(self, obj):
        if _is_staff(self):
            return serializers.DateTimeField().to_representation(obj.offer_expires_at) if obj.offer_expires_at else None
        offer = selectors.my_offer(obj)
        if offer is None or offer.status != LeadOfferStatus.OFFERED:
            return None
        return serializers.DateTimeField().to_representation(offer.expires_at)

    @extend_schema_field(PartnerRefSerializer(allow_null=True, help_text="Staff only (absent for partners)."))
    def get_offered_to(self, obj):
        if not _is_staff(self) or obj.offered_to is None:
            return None
        return PartnerRefSerializer(obj.offered_to).data

    @extend_schema_field(serializers.UUIDField(allow_null=True, help_text="The registration it became, if accepted."))
    def get_registration(self, obj):
        if obj.registration_id is None:
            return None
        if not _is_staff(self):
            offer = selectors.my_offer(obj)
            if offer is None or offer.status != LeadOfferStatus.ACCEPTED:
                return None
        return str(obj.registration.public_id)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not _is_staff(self):
            data.pop("offered_to", None)
        return data


class LeadDetailSerializer(LeadSerializer):
    routing = serializers.SerializerMethodField()

    class Meta:
        ref_name = "LeadDetail"

    @extend_schema_field(RoutingDecisionSerializer(many=True, help_text="Staff only (absent for partners)."))
    def get_routing(self, obj):
        if not _is_staff(self):
            return None
        return RoutingDecisionSerializer(obj.decisions.all(), many=True).data

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not _is_staff(self):
            data.pop("routing", None)
        return data


# --- input --------------------------------------------------------------------------------


class LeadCreateSerializer(serializers.Serializer):
    customer_name = serializers.CharField(max_length=300)
    customer_website = serializers.CharField(max_length=300, required=False, allow_blank=True)
    customer_tax_id = serializers.CharField(max_length=32, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=LEAD_PHONE_MAX_LENGTH, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, min_length=2)
    region = named_choice_field("LeadRegion", Region.choices, required=False, allow_blank=True)
    city = serializers.CharField(max_length=120, required=False, allow_blank=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=10, decimal_places=6, required=False, allow_null=True)
    product_line = serializers.SlugRelatedField(
        slug_field="code", queryset=ProductLine.objects.filter(is_active=True), required=False, allow_null=True
    )
    products = serializers.ListField(child=serializers.IntegerField(), required=False)
    estimated_value = serializers.DecimalField(
        max_digits=16, decimal_places=2, required=False, allow_null=True, min_value=0
    )
    currency = named_choice_field("LeadCurrency", Currency.choices, required=False)
    source = named_choice_field("LeadSource", LeadSource.choices, required=False)
    description = serializers.CharField(max_length=LEAD_DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    route = serializers.BooleanField(required=False, default=True, help_text="Route it to a partner at once.")

    class Meta:
        ref_name = "LeadCreate"


class LeadDeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=LEAD_REASON_MAX_LENGTH)
    spam = serializers.BooleanField(required=False, default=False)

    class Meta:
        ref_name = "LeadDecline"


class LeadFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=[(v, v) for v in _SHOWN_STATUSES], method="noop", label=_("Status (repeat for several)")
    )
    country = django_filters.CharFilter(method="noop", label=_("Country (ISO-2)"))
    product_line = django_filters.CharFilter(field_name="product_line__code", label=_("Product line code"))
    source = django_filters.ChoiceFilter(choices=LeadSource.choices, method="noop")
    q = django_filters.CharFilter(method="noop", label=_("Search reference or customer name"))
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Lead
        fields = []

    def noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        shared = {k: data.get(k) for k in ("status", "country", "source", "q") if data.get(k)}
        if not shared:
            return queryset
        return queryset.filter(pk__in=selectors.lead_list_for_user(user=self.request.user, filters=shared).values("pk"))


# --- views --------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Leads (staff: all; partner users: the leads offered to their partner)"),
    retrieve=extend_schema(summary="A lead (staff: with its routing explanation)", responses=LeadDetailSerializer),
    create=extend_schema(
        summary="Create a lead (staff); routed at once unless route=false",
        request=LeadCreateSerializer,
        responses={201: LeadDetailSerializer},
    ),
)
class LeadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Lead.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = LeadSerializer
    filterset_class = LeadFilterSet
    ordering_fields = ["created_at", "offer_expires_at", "estimated_value"]
    ordering = ["-created_at"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {
        "create": [IsVendorStaff],
        "route": [IsVendorStaff],
        "accept": [IsPartnerUser],
        "decline": [IsPartnerUser],
    }

    def get_queryset(self):
        return selectors.lead_list_for_user(user=self.request.user)

    def get_serializer_class(self):
        return LeadSerializer if self.action == "list" else LeadDetailSerializer

    def get_object_for_user(self, user, public_id):
        return selectors.lead_get_for_user(user=user, public_id=public_id)

    def _fresh(self, lead):
        return selectors.lead_get_for_user(user=self.request.user, public_id=lead.public_id)

    def create(self, request):
        data = dict(self.parse(LeadCreateSerializer))
        route = data.pop("route", True)
        lead = services.lead_create(actor=request.user, route=route, **data)
        return self.render(self._fresh(lead), status.HTTP_201_CREATED)

    @extend_schema(
        summary="Route the lead now (staff): withdraws an open offer first",
        request=None,
        responses={200: LeadDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def route(self, request, id=None):
        lead = self.get_object()
        services.lead_route(actor=request.user, lead=lead)
        return self.render(self._fresh(lead))

    @extend_schema(
        summary="Accept the lead offered to your partner: it becomes your approved registration",
        request=None,
        responses={200: LeadDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, id=None):
        lead = self.get_object()
        services.lead_accept(user=request.user, lead=lead)
        return self.render(self._fresh(lead))

    @extend_schema(
        summary="Decline the lead offered to your partner (reason required; spam optional)",
        request=LeadDeclineSerializer,
        responses={200: LeadDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def decline(self, request, id=None):
        lead = self.get_object()
        data = self.parse(LeadDeclineSerializer)
        services.lead_decline(user=request.user, lead=lead, reason=data["reason"], spam=data["spam"])
        return self.render(self._fresh(lead))
