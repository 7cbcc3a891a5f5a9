"""The certifications API: `/api/v1/certifications/` — staff create, list and delete (revoke);
partner users read their own people's certificates."""

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from partners import services
from partners.api.serializers import ContactRefSerializer, PartnerRefSerializer
from partners.api.views import PRMViewSet
from partners.models import Certification
from partners.selectors import contact_get_for_user
from partners.selectors_certifications import (
    certification_get_for_user,
    certification_is_valid,
    certification_list_for_user,
)
from prm.api import IsStaffOrPartnerUser, IsVendorStaff


class CertificationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    contact = ContactRefSerializer(read_only=True)
    partner = PartnerRefSerializer(source="contact.partner", read_only=True)
    course = serializers.CharField(read_only=True)
    certificate_number = serializers.CharField(read_only=True)
    earned_on = serializers.DateField(read_only=True)
    expires_on = serializers.DateField(read_only=True, allow_null=True)
    is_valid = serializers.SerializerMethodField()

    def get_is_valid(self, obj) -> bool:
        return certification_is_valid(obj, on=timezone.localdate())


class CertificationCreateSerializer(serializers.Serializer):
    contact = serializers.UUIDField(help_text="The person's contact id.")
    course = serializers.CharField(max_length=200)
    certificate_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    earned_on = serializers.DateField()
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)


class CertificationFilterSet(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="contact__partner__public_id", label=_("Partner id (staff)"))
    contact = django_filters.UUIDFilter(field_name="contact__public_id", label=_("Contact id"))
    expires_before = django_filters.DateFilter(field_name="expires_on", lookup_expr="lte")
    expires_after = django_filters.DateFilter(field_name="expires_on", lookup_expr="gt")
    course = django_filters.CharFilter(field_name="course", lookup_expr="icontains")

    class Meta:
        model = Certification
        fields = []


@extend_schema_view(
    list=extend_schema(summary="Certificates you can see (partner users: their own people's)"),
    retrieve=extend_schema(summary="A certificate"),
    create=extend_schema(
        summary="Record a certificate (staff)",
        request=CertificationCreateSerializer,
        responses={201: CertificationSerializer},
    ),
    destroy=extend_schema(summary="Revoke a certificate (staff; audited)", responses={204: None}),
)
class CertificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Certification.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = CertificationSerializer
    filterset_class = CertificationFilterSet
    ordering_fields = ["earned_on", "expires_on", "course"]
    ordering = ["expires_on"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {"create": [IsVendorStaff], "destroy": [IsVendorStaff]}

    def get_queryset(self):
        return certification_list_for_user(user=self.request.user)

    def get_object_for_user(self, user, public_id):
        return certification_get_for_user(user=user, public_id=public_id)

    def create(self, request):
        data = dict(self.parse(CertificationCreateSerializer))
        contact = contact_get_for_user(user=request.user, public_id=data.pop("contact"))
        cert = services.certification_create(actor=request.user, contact=contact, **data)
        return self.render(certification_get_for_user(user=request.user, public_id=cert.public_id), 201)

    def destroy(self, request, id=None):
        services.certification_revoke(actor=request.user, certification=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
