"""The sales records API: `/api/v1/sales/` (list and filter; staff record sell-in or sell-out
for any partner, a partner admin reports its own sell-out) and `/api/v1/sales/<id>/return/`.
Records are never edited or deleted: a return is a new negative record."""

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action

from deals import selectors_sales, services
from deals.models import Product, SalesKind, SalesRecord, SalesSource
from partners import selectors as partner_selectors
from partners.api.serializers import PartnerRefSerializer
from partners.api.views import PRMViewSet
from prm.api import IsStaffOrPartnerUser
from prm.api_docs import named_choice_field
from prm.models import Currency


class IsStaffOrPartnerAdminWriter(permissions.BasePermission):
    message = "Only vendor staff or your company's partner admin may record sales."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_vendor_staff or user.is_partner_admin))


class SalesProductSerializer(serializers.Serializer):
    sku = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "SalesProductRef"


class SalesRecordSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    kind = named_choice_field("SalesKind", SalesKind.choices, read_only=True)
    occurred_on = serializers.DateField(read_only=True)
    reference = serializers.CharField(read_only=True)
    product = SalesProductSerializer(read_only=True, allow_null=True)
    quantity = serializers.IntegerField(read_only=True, allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    currency = named_choice_field("Currency", Currency.choices, read_only=True)
    source = named_choice_field("SalesSource", SalesSource.choices, read_only=True)
    note = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class SalesRecordCreateSerializer(serializers.Serializer):
    partner = serializers.UUIDField(required=False, help_text="Partner id (staff; partner admins record their own).")
    kind = named_choice_field("SalesKind", SalesKind.choices, required=False, help_text="Default sell_out.")
    occurred_on = serializers.DateField()
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    product = serializers.SlugRelatedField(
        slug_field="sku", queryset=Product.objects.all(), required=False, allow_null=True, help_text="Product SKU."
    )
    quantity = serializers.IntegerField(required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = named_choice_field("Currency", Currency.choices)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SalesReturnSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True, min_value=0)
    quantity = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    reason = serializers.CharField(max_length=200)


class SalesFilterSet(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner__public_id", label=_("Partner id (staff)"))
    kind = django_filters.ChoiceFilter(choices=SalesKind.choices)
    date_from = django_filters.DateFilter(field_name="occurred_on", lookup_expr="gte", label=_("On or after"))
    date_to = django_filters.DateFilter(field_name="occurred_on", lookup_expr="lte", label=_("On or before"))
    sku = django_filters.CharFilter(field_name="product__sku", label=_("Product SKU"))
    reference = django_filters.CharFilter(field_name="reference", lookup_expr="icontains")
    source = django_filters.ChoiceFilter(choices=SalesSource.choices)

    class Meta:
        model = SalesRecord
        fields = []


@extend_schema_view(
    list=extend_schema(summary="Sales records you can see (partner users: their company's)"),
    create=extend_schema(
        summary="Record a sale (staff: any partner and kind; partner admin: own sell-out)",
        request=SalesRecordCreateSerializer,
        responses={201: SalesRecordSerializer},
    ),
)
class SalesViewSet(mixins.ListModelMixin, PRMViewSet):
    queryset = SalesRecord.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = SalesRecordSerializer
    filterset_class = SalesFilterSet
    ordering_fields = ["occurred_on", "amount", "created_at"]
    ordering = ["-occurred_on", "-id"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {"create": [IsStaffOrPartnerAdminWriter], "return_": [IsStaffOrPartnerAdminWriter]}

    def get_queryset(self):
        return selectors_sales.sales_list_for_user(user=self.request.user)

    def get_object_for_user(self, user, public_id):
        return selectors_sales.sales_get_for_user(user=user, public_id=public_id)

    def create(self, request):
        data = dict(self.parse(SalesRecordCreateSerializer))
        partner_id = data.pop("partner", None)
        if request.user.is_vendor_staff:
            if partner_id is None:
                raise serializers.ValidationError({"partner": ["Staff must name the partner."]})
            partner = partner_selectors.partner_get_for_user(user=request.user, public_id=partner_id)
        else:
            partner = request.user.partner
        data.setdefault("kind", SalesKind.SELL_OUT)
        record = services.sales_record_create(actor=request.user, partner=partner, source=SalesSource.API, **data)
        return self.render(selectors_sales.sales_get_for_user(user=request.user, public_id=record.public_id), 201)

    @extend_schema(
        summary="Record a return against a sale (a negative record; never more than the sale's net)",
        request=SalesReturnSerializer,
        responses={201: SalesRecordSerializer},
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, id=None):
        record = self.get_object()
        data = self.parse(SalesReturnSerializer)
        result = services.sales_record_return(actor=request.user, record=record, **data)
        return self.render(
            selectors_sales.sales_get_for_user(user=request.user, public_id=result.public_id), status.HTTP_201_CREATED
        )
