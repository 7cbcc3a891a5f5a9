"""DRF views of the partners API: thin adapters. Querysets and object lookups come from
partners.selectors (which scope them to the user), writes go through partners.services."""

import uuid

from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from partners import filters, selectors, services
from partners.api import serializers as s
from partners.models import Agreement, Contact, Interaction, Invitation, Partner
from prm.api import IsStaffOrPartnerUser, IsStaffOrReadOnlyPartner, IsVendorStaff
from prm.api_docs import error_response
from prm.models import User

CONFLICT = {409: error_response("The object's current state does not allow this.")}


class IsStaffOrPartnerAdmin(permissions.BasePermission):
    message = _("Only vendor staff or your company's partner admin may do this.")

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_vendor_staff or user.is_partner_admin))


class IsPartnerAdmin(permissions.BasePermission):
    message = _("Only your company's partner admin may do this.")

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_partner_admin)


class PRMViewSet(viewsets.GenericViewSet):
    """Common ground: public ids in URLs, scoped lookups, per-action permissions and serializers."""

    filter_backends = [DjangoFilterBackend, filters.StableOrderingFilter]
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    # Permission classes per action; `permission_classes` covers the rest (reads).
    action_permissions: dict[str, list] = {}

    def get_permissions(self):
        classes = self.action_permissions.get(self.action, self.permission_classes)
        return [permission() for permission in classes]

    def get_object_for_user(self, user, public_id):
        raise NotImplementedError

    def get_object(self):
        try:
            public_id = uuid.UUID(str(self.kwargs[self.lookup_url_kwarg]))
        except ValueError:
            raise exceptions.NotFound() from None
        obj = self.get_object_for_user(self.request.user, public_id)
        self.check_object_permissions(self.request, obj)
        return obj

    def parse(self, serializer_class, *, instance=None, partial=False):
        serializer = serializer_class(
            instance=instance, data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def render(self, obj, http_status=status.HTTP_200_OK):
        return Response(self.get_serializer(obj).data, status=http_status)


# --- Partners ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Partners you can see (partner users: their own company)"),
    retrieve=extend_schema(summary="A partner"),
    create=extend_schema(
        summary="Create a partner (staff)", request=s.PartnerCreateSerializer, responses={201: s.PartnerSerializer}
    ),
    update=extend_schema(
        summary="Replace a partner's profile",
        description="Staff edit every profile field; a partner admin only the fields its company may edit.",
        request=s.PartnerUpdateSerializer,
    ),
    partial_update=extend_schema(
        summary="Change a partner's profile",
        description="Staff edit every profile field; a partner admin only "
        + ", ".join(services.PARTNER_EDITABLE_FIELDS)
        + ". Any other field is refused with 400.",
        request=s.PartnerUpdateSerializer,
    ),
)
class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Partner.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = s.PartnerSerializer
    filterset_class = filters.PartnerFilterSet
    ordering_fields = ["name", "created_at", "last_activity_at"]
    ordering = ["name"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {
        "create": [IsVendorStaff],
        "update": [IsStaffOrPartnerAdmin],
        "partial_update": [IsStaffOrPartnerAdmin],
        "change_status": [IsVendorStaff],
        "verify": [IsVendorStaff],
    }

    def get_queryset(self):
        return selectors.partner_list(user=self.request.user).select_related("recruited_by")

    def get_object_for_user(self, user, public_id):
        return selectors.partner_get_for_user(user=user, public_id=public_id)

    def _fresh(self, partner):
        return selectors.partner_get_for_user(user=self.request.user, public_id=partner.public_id)

    def create(self, request):
        data = self.parse(s.PartnerCreateSerializer)
        partner = services.partner_create(actor=request.user, **data)
        return self.render(self._fresh(partner), status.HTTP_201_CREATED)

    def update(self, request, id=None, partial=False):
        partner = self.get_object()
        if request.user.is_vendor_staff:
            data = dict(self.parse(s.PartnerUpdateSerializer, instance=partner, partial=partial))
            reason = data.pop("reason", "")
            partner = services.partner_update(actor=request.user, partner=partner, data=data, reason=reason)
        else:
            data = self.parse(s.PartnerOwnProfileSerializer, instance=partner, partial=partial)
            partner = services.partner_update_own_profile(actor=request.user, partner=partner, data=dict(data))
        return self.render(self._fresh(partner))

    def partial_update(self, request, id=None):
        return self.update(request, id=id, partial=True)

    @extend_schema(
        summary="Move a partner along its lifecycle",
        request=s.PartnerStatusSerializer,
        responses={200: s.PartnerSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request, id=None):
        partner = self.get_object()
        data = self.parse(s.PartnerStatusSerializer)
        partner = services.partner_change_status(actor=request.user, partner=partner, **data)
        return self.render(self._fresh(partner))

    @extend_schema(summary="Mark a partner verified (or not)", request=s.PartnerVerifySerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, id=None):
        partner = self.get_object()
        data = self.parse(s.PartnerVerifySerializer)
        partner = services.partner_set_verified(actor=request.user, partner=partner, **data)
        return self.render(self._fresh(partner))


# --- Contacts ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Contacts at partners (partner users: their own company's)"),
    retrieve=extend_schema(summary="A contact"),
    create=extend_schema(
        summary="Add a contact (staff, or the company's partner admin)",
        request=s.ContactCreateSerializer,
        responses={201: s.ContactSerializer},
    ),
    update=extend_schema(summary="Replace a contact", request=s.ContactUpdateSerializer),
    partial_update=extend_schema(summary="Change a contact", request=s.ContactUpdateSerializer),
)
class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Contact.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = s.ContactSerializer
    filterset_class = filters.ContactFilterSet
    ordering_fields = ["full_name", "created_at"]
    ordering = ["full_name"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {
        "create": [IsStaffOrPartnerAdmin],
        "update": [IsStaffOrPartnerAdmin],
        "partial_update": [IsStaffOrPartnerAdmin],
        "deactivate": [IsStaffOrPartnerAdmin],
    }

    def get_queryset(self):
        return selectors.contact_list_for_user(user=self.request.user)

    def get_object_for_user(self, user, public_id):
        return selectors.contact_get_for_user(user=user, public_id=public_id)

    def _fresh(self, contact):
        return selectors.contact_get_for_user(user=self.request.user, public_id=contact.public_id)

    def create(self, request):
        data = dict(self.parse(s.ContactCreateSerializer))
        partner = data.pop("partner")
        contact = services.contact_create(actor=request.user, partner=partner, **data)
        return self.render(self._fresh(contact), status.HTTP_201_CREATED)

    def update(self, request, id=None, partial=False):
        contact = self.get_object()
        data = self.parse(s.ContactUpdateSerializer, instance=contact, partial=partial)
        contact = services.contact_update(actor=request.user, contact=contact, data=dict(data))
        return self.render(self._fresh(contact))

    def partial_update(self, request, id=None):
        return self.update(request, id=id, partial=True)

    @extend_schema(summary="Deactivate a contact", request=None)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, id=None):
        contact = services.contact_deactivate(actor=request.user, contact=self.get_object())
        return self.render(self._fresh(contact))


# --- Agreements -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Agreements (partner users: their company's, drafts excluded)"),
    retrieve=extend_schema(summary="An agreement"),
    create=extend_schema(
        summary="Create an agreement (staff)",
        request=s.AgreementCreateSerializer,
        responses={201: s.AgreementSerializer},
    ),
    update=extend_schema(summary="Replace an agreement (staff)", request=s.AgreementUpdateSerializer),
    partial_update=extend_schema(summary="Change an agreement (staff)", request=s.AgreementUpdateSerializer),
)
class AgreementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Agreement.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = s.AgreementSerializer
    filterset_class = filters.AgreementFilterSet
    ordering_fields = ["starts_on", "ends_on", "number", "created_at"]
    ordering = ["-starts_on"]
    permission_classes = [IsStaffOrReadOnlyPartner]

    def get_queryset(self):
        return selectors.agreement_list_for_user(user=self.request.user)

    def get_object_for_user(self, user, public_id):
        return selectors.agreement_get_for_user(user=user, public_id=public_id)

    def _fresh(self, agreement):
        return selectors.agreement_get_for_user(user=self.request.user, public_id=agreement.public_id)

    def create(self, request):
        data = dict(self.parse(s.AgreementCreateSerializer))
        partner = data.pop("partner")
        agreement = services.agreement_create(actor=request.user, partner=partner, **data)
        return self.render(self._fresh(agreement), status.HTTP_201_CREATED)

    def update(self, request, id=None, partial=False):
        agreement = self.get_object()
        data = dict(self.parse(s.AgreementUpdateSerializer, instance=agreement, partial=partial))
        reason = data.pop("reason", "")
        agreement = services.agreement_update(actor=request.user, agreement=agreement, data=data, reason=reason)
        return self.render(self._fresh(agreement))

    def partial_update(self, request, id=None):
        return self.update(request, id=id, partial=True)


# --- Interactions -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Interactions with partners (staff)"),
    retrieve=extend_schema(summary="An interaction (staff)"),
    create=extend_schema(
        summary="Log an interaction (staff)",
        request=s.InteractionCreateSerializer,
        responses={201: s.InteractionSerializer},
    ),
)
class InteractionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Interaction.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = s.InteractionSerializer
    filterset_class = filters.InteractionFilterSet
    ordering_fields = ["occurred_at", "next_step_due", "created_at"]
    ordering = ["-occurred_at"]
    permission_classes = [IsVendorStaff]

    def get_queryset(self):
        return selectors.interaction_list_for_user(user=self.request.user)

    def get_object_for_user(self, user, public_id):
        return selectors.interaction_get_for_user(user=user, public_id=public_id)

    def _fresh(self, interaction):
        return selectors.interaction_get_for_user(user=self.request.user, public_id=interaction.public_id)

    def create(self, request):
        data = self.parse(s.InteractionCreateSerializer)
        interaction = services.interaction_log(actor=request.user, **data)
        return self.render(self._fresh(interaction), status.HTTP_201_CREATED)

    @extend_schema(
        summary="Mark the next step done", request=None, responses={200: s.InteractionSerializer, **CONFLICT}
    )
    @action(detail=True, methods=["post"], url_path="complete-step")
    def complete_step(self, request, id=None):
        interaction = services.interaction_complete_step(actor=request.user, interaction=self.get_object())
        return self.render(self._fresh(interaction))


# --- Cabinet users ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Cabinet users (partner users: their colleagues)"),
    retrieve=extend_schema(summary="A cabinet user"),
)
class PartnerUserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = User.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = s.PartnerUserSerializer
    filterset_class = filters.PartnerUserFilterSet
    ordering_fields = ["full_name", "email", "date_joined"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {"activate": [IsStaffOrPartnerAdmin], "deactivate": [IsStaffOrPartnerAdmin]}

    def get_queryset(self):
        return selectors.partner_user_list_for_user(user=self.request.user)

    def get_object_for_user(self, user, public_id):
        return selectors.partner_user_get_for_user(user=user, public_id=public_id)

    def _set_active(self, active: bool):
        member = services.partner_user_set_active(actor=self.request.user, user=self.get_object(), active=active)
        return self.render(selectors.partner_user_get_for_user(user=self.request.user, public_id=member.public_id))

    @extend_schema(summary="Let a colleague log in again", request=None)
    @action(detail=True, methods=["post"])
    def activate(self, request, id=None):
        return self._set_active(True)

    @extend_schema(summary="Stop a colleague from logging in", request=None)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, id=None):
        return self._set_active(False)


# --- Invitations ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Open invitations of your company (partner admin)"),
    retrieve=extend_schema(summary="An invitation of your company (partner admin)"),
    create=extend_schema(
        summary="Invite a colleague by e-mail (partner admin)",
        description="The invitation link goes by e-mail only; the API never returns its token.",
        request=s.InvitationCreateSerializer,
        responses={201: s.InvitationSerializer, **CONFLICT},
    ),
)
class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Invitation.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = s.InvitationSerializer
    filter_backends = [filters.StableOrderingFilter]
    ordering_fields = ["created_at", "expires_at", "email"]
    ordering = ["-created_at"]
    permission_classes = [IsPartnerAdmin]

    def get_queryset(self):
        return selectors.invitation_list_open(partner=self.request.user.partner)

    def get_object_for_user(self, user, public_id):
        return selectors.invitation_get_for_user(user=user, public_id=public_id)

    def create(self, request):
        data = self.parse(s.InvitationCreateSerializer)
        invitation, _token = services.invitation_create(actor=request.user, partner=request.user.partner, **data)
        return self.render(invitation, status.HTTP_201_CREATED)

    @extend_schema(summary="Withdraw an invitation", request=None, responses={200: s.InvitationSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def revoke(self, request, id=None):
        invitation = services.invitation_revoke(actor=request.user, invitation=self.get_object())
        return self.render(invitation)


# --- Me ---------------------------------------------------------------------------------------


class MeView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(summary="The current user", responses=s.MeSerializer)
    def get(self, request):
        return Response(s.MeSerializer(request.user).data)
