"""Serializers of the deals API. Input serializers check the shape of a request; services apply
the rules. Output serializers render; none of them saves anything.

Confidentiality: what a partner user receives about conflicts is `has_conflict` (a boolean) and
the partner-safe `conflict` summary on a single registration; flags, evidence and the other
side of a conflict are rendered only for vendor staff.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deals import selectors
from deals.models import ConflictOutcome, ConflictStatus, DealStage, DealStatus
from partners.api.serializers import PartnerRefSerializer, UserRefSerializer
from prm.api_docs import named_choice_field
from prm.models import Currency


def _is_staff(serializer) -> bool:
    request = serializer.context.get("request")
    return bool(request and request.user.is_authenticated and request.user.is_vendor_staff)


# --- catalogue --------------------------------------------------------------------------------


class ProductLineRefSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    code = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "ProductLineRef"


class ProductSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    sku = serializers.CharField(read_only=True)
    line = ProductLineRefSerializer(read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        ref_name = "Product"


# --- registrations: output --------------------------------------------------------------------


class EndCustomerSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    website = serializers.CharField(read_only=True)
    domain = serializers.CharField(read_only=True)
    tax_id = serializers.CharField(read_only=True)
    country = serializers.CharField(read_only=True)
    city = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "EndCustomer"


class ConflictSummarySerializer(serializers.Serializer):
    """What a partner may know: another registration competes, and the outcome for this one."""

    exists = serializers.BooleanField(read_only=True)
    open = serializers.BooleanField(read_only=True)
    outcome = serializers.ChoiceField(
        choices=["won", "lost", "co_sell", "rejected", "closed"], read_only=True, allow_null=True
    )

    class Meta:
        ref_name = "DealConflictSummary"


class _EndCustomerFieldMixin:
    @extend_schema_field(EndCustomerSerializer)
    def get_end_customer(self, deal):
        # Staff see the shared customer record; a partner sees what it entered itself, never
        # another partner's spelling, website or city of the same company.
        request = self.context.get("request")
        if request is not None and request.user.is_vendor_staff:
            return EndCustomerSerializer(deal.end_customer).data
        return EndCustomerSerializer(deal.customer_as_entered._asdict()).data


class DealSerializer(_EndCustomerFieldMixin, serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    reference = serializers.CharField(read_only=True)
    status = named_choice_field("DealStatus", DealStatus.choices, read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    submitted_by = UserRefSerializer(read_only=True)
    end_customer = serializers.SerializerMethodField()
    title = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    products = ProductSerializer(many=True, read_only=True)
    value = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    currency = named_choice_field("Currency", Currency.choices, read_only=True)
    expected_close_date = serializers.DateField(read_only=True)
    stage = named_choice_field("DealStage", DealStage.choices, read_only=True)
    probability = serializers.IntegerField(read_only=True)
    submitted_at = serializers.DateTimeField(read_only=True)
    review_due_at = serializers.DateTimeField(read_only=True)
    decided_at = serializers.DateTimeField(read_only=True)
    decision_reason = serializers.CharField(
        read_only=True, help_text="Reason of a rejection or return, or the approval note."
    )
    approved_at = serializers.DateTimeField(read_only=True)
    protected_until = serializers.DateTimeField(read_only=True)
    closed_at = serializers.DateTimeField(read_only=True)
    final_amount = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    lost_reason = serializers.CharField(read_only=True)
    has_conflict = serializers.SerializerMethodField(help_text="Another registration competes for this customer.")
    flags = serializers.SerializerMethodField(help_text="Staff only; always empty for partner users.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    class Meta:
        ref_name = "DealRegistration"

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_has_conflict(self, obj) -> bool:
        flag = getattr(obj, "has_conflict", None)
        if flag is None:
            flag = selectors.conflict_summary_for_partner(obj).exists
        return bool(flag)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_flags(self, obj) -> list[str]:
        return list(obj.flags) if _is_staff(self) else []


class DealDetailSerializer(DealSerializer):
    conflict = serializers.SerializerMethodField()

    class Meta:
        ref_name = "DealRegistrationDetail"

    @extend_schema_field(ConflictSummarySerializer)
    def get_conflict(self, obj):
        summary = selectors.conflict_summary_for_partner(obj)
        return ConflictSummarySerializer(summary).data


# --- registrations: input ---------------------------------------------------------------------


class CustomerInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    website = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    tax_id = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")

    class Meta:
        ref_name = "DealCustomerInput"

    def validate_tax_id(self, value):
        return "".join(value.split())

    def validate_country(self, value):
        return value.strip().upper()


class DealWriteSerializer(serializers.Serializer):
    """Fields of a registration a partner fills in (create; replace or change while editable)."""

    customer = CustomerInputSerializer()
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    products = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=selectors.product_choices(), help_text="Product ids (see products/)."
    )
    value = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0)
    currency = named_choice_field("Currency", Currency.choices)
    expected_close_date = serializers.DateField()
    stage = named_choice_field("DealStage", DealStage.choices, required=False, default=DealStage.QUALIFICATION)

    class Meta:
        ref_name = "DealWrite"


class DealCreateSerializer(DealWriteSerializer):
    partner = serializers.UUIDField(required=False, help_text="Staff registering for a partner: its id.")
    submit = serializers.BooleanField(required=False, default=False, help_text="Submit for review at once.")

    class Meta:
        ref_name = "DealCreate"

    def validate(self, attrs):
        if _is_staff(self) and not attrs.get("partner"):
            raise serializers.ValidationError({"partner": ["Staff must name the partner."]})
        return attrs


class DealCheckSerializer(serializers.Serializer):
    customer = CustomerInputSerializer()
    products = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=selectors.product_choices())

    class Meta:
        ref_name = "DealCheck"


class DealCheckResultSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=["clear", "possible_overlap", "held"], read_only=True)
    message = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "DealCheckResult"


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)

    class Meta:
        ref_name = "DealReason"


class ApproveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    class Meta:
        ref_name = "DealApprove"


class WonSerializer(serializers.Serializer):
    final_amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0)

    class Meta:
        ref_name = "DealWon"


class ExtensionDecisionSerializer(serializers.Serializer):
    extension = serializers.UUIDField(required=False, help_text="The request's id; default: the pending one.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    class Meta:
        ref_name = "ExtensionDecision"


class ExtensionRejectSerializer(serializers.Serializer):
    extension = serializers.UUIDField(required=False, help_text="The request's id; default: the pending one.")
    reason = serializers.CharField(max_length=2000)

    class Meta:
        ref_name = "ExtensionReject"


class ExtensionSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)
    days = serializers.IntegerField(read_only=True)
    decision_note = serializers.CharField(read_only=True)
    new_protected_until = serializers.DateTimeField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    class Meta:
        ref_name = "ProtectionExtension"


# --- conflicts (staff only) -------------------------------------------------------------------


class ConflictSideSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    reference = serializers.CharField(read_only=True)
    status = named_choice_field("DealStatus", DealStatus.choices, read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    end_customer = EndCustomerSerializer(read_only=True)
    title = serializers.CharField(read_only=True)
    value = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    currency = serializers.CharField(read_only=True)
    submitted_at = serializers.DateTimeField(read_only=True)
    approved_at = serializers.DateTimeField(read_only=True)
    protected_until = serializers.DateTimeField(read_only=True)

    class Meta:
        ref_name = "ConflictSide"


class ProposedResolutionSerializer(serializers.Serializer):
    outcome = serializers.CharField(read_only=True)
    winner = serializers.UUIDField(source="winner.public_id", read_only=True)
    rule = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "ConflictProposedResolution"


class ConflictSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = named_choice_field("ConflictStatus", ConflictStatus.choices, read_only=True)
    outcome = serializers.CharField(read_only=True)
    registration_low = ConflictSideSerializer(read_only=True)
    registration_high = ConflictSideSerializer(read_only=True)
    matched_fields = serializers.ListField(child=serializers.CharField(), read_only=True)
    similarity = serializers.DecimalField(max_digits=4, decimal_places=3, read_only=True)
    evidence = serializers.JSONField(read_only=True)
    detected_at = serializers.DateTimeField(read_only=True)
    escalated_at = serializers.DateTimeField(read_only=True)
    winner = serializers.UUIDField(source="winner.public_id", read_only=True, allow_null=True, default=None)
    reason = serializers.CharField(read_only=True)
    resolved_by = UserRefSerializer(read_only=True)
    resolved_at = serializers.DateTimeField(read_only=True)
    proposed_resolution = serializers.SerializerMethodField()

    class Meta:
        ref_name = "Conflict"

    @extend_schema_field(ProposedResolutionSerializer)
    def get_proposed_resolution(self, obj):
        return ProposedResolutionSerializer(selectors.conflict_proposed_resolution(obj)).data


class ConflictResolveSerializer(serializers.Serializer):
    outcome = named_choice_field(
        "ConflictResolveOutcome",
        [(c.value, c.label) for c in (ConflictOutcome.AWARD, ConflictOutcome.CO_SELL, ConflictOutcome.REJECT_BOTH)],
    )
    winner = serializers.UUIDField(required=False, help_text="With outcome award: the winning registration's id.")
    reason = serializers.CharField(max_length=4000, help_text="Staff only; partners never see it.")

    class Meta:
        ref_name = "ConflictResolve"
