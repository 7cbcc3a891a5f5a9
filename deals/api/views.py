"""DRF views of the deals API: thin adapters. Querysets and object lookups come from
deals.selectors (scoped to the user: another partner's registration is a 404), writes go
through deals.services (StateError → 409, ApplicationError → 400 via prm.api)."""

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from deals import filters, selectors, services
from deals.api import serializers as s
from deals.models import Conflict, DealRegistration, ExtensionStatus, Product
from partners import selectors as partner_selectors
from partners.api.views import CONFLICT, PRMViewSet
from prm.api import IsPartnerUser, IsStaffOrPartnerUser, IsVendorStaff
from prm.exceptions import StateError


@extend_schema_view(
    list=extend_schema(summary="Registrations you can see (a rep: its own; a partner admin: its company's)"),
    retrieve=extend_schema(summary="A registration", responses=s.DealDetailSerializer),
    create=extend_schema(
        summary="Register a deal (draft, or submitted with submit=true)",
        request=s.DealCreateSerializer,
        responses={201: s.DealDetailSerializer},
    ),
    update=extend_schema(
        summary="Replace a draft or returned registration",
        request=s.DealWriteSerializer,
        responses={200: s.DealDetailSerializer, **CONFLICT},
    ),
    partial_update=extend_schema(
        summary="Change a draft or returned registration",
        request=s.DealWriteSerializer,
        responses={200: s.DealDetailSerializer, **CONFLICT},
    ),
)
class DealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = DealRegistration.objects.none()  # the model, for the schema; get_queryset scopes via selectors
    serializer_class = s.DealSerializer
    filterset_class = filters.DealFilterSet
    ordering_fields = ["created_at", "submitted_at", "expected_close_date", "value", "review_due_at", "protected_until"]
    ordering = ["-created_at"]
    permission_classes = [IsStaffOrPartnerUser]
    action_permissions = {
        "approve": [IsVendorStaff],
        "reject": [IsVendorStaff],
        "return_": [IsVendorStaff],
        "approve_extension": [IsVendorStaff],
        "reject_extension": [IsVendorStaff],
        "extend": [IsPartnerUser],
    }

    def get_queryset(self):
        return selectors.with_conflict_flag(selectors.deal_list_for_user(self.request.user))

    def get_serializer_class(self):
        if self.action == "list":
            return s.DealSerializer
        return s.DealDetailSerializer

    def get_object_for_user(self, user, public_id):
        return selectors.deal_get_for_user(user, public_id)

    def _fresh(self, deal):
        return selectors.deal_get_for_user(self.request.user, deal.public_id)

    def create(self, request):
        data = dict(self.parse(s.DealCreateSerializer))
        partner_id = data.pop("partner", None)
        if request.user.is_vendor_staff:
            partner = partner_selectors.partner_get_for_user(user=request.user, public_id=partner_id)
        else:
            partner = request.user.partner
        deal = services.deal_create(user=request.user, partner=partner, **data)
        return self.render(self._fresh(deal), status.HTTP_201_CREATED)

    def update(self, request, id=None, partial=False):
        deal = self.get_object()
        data = self.parse(s.DealWriteSerializer, partial=partial)
        deal = services.deal_update(user=request.user, deal=deal, **data)
        return self.render(self._fresh(deal))

    def partial_update(self, request, id=None):
        return self.update(request, id=id, partial=True)

    @extend_schema(
        summary="Pre-submit check: would this customer run into another registration?",
        description="Answers clear, possible_overlap or held — never whose registration it is.",
        request=s.DealCheckSerializer,
        responses={200: s.DealCheckResultSerializer},
    )
    @action(detail=False, methods=["post"], permission_classes=[IsPartnerUser])
    def check(self, request):
        data = self.parse(s.DealCheckSerializer)
        customer = data["customer"]
        result = services.deal_precheck(
            partner=request.user.partner,
            name=customer["name"],
            website=customer.get("website", ""),
            email=customer.get("email", ""),
            tax_id=customer.get("tax_id", ""),
            products=data.get("products", []),
        )
        return Response({"verdict": result.verdict, "message": result.message})

    def _transition(self, service, serializer_class=None, **kwargs):
        deal = self.get_object()
        if serializer_class is not None:
            kwargs.update(self.parse(serializer_class))
        deal = service(user=self.request.user, deal=deal, **kwargs)
        return self.render(self._fresh(deal))

    @extend_schema(
        summary="Submit (or resubmit) for review", request=None, responses={200: s.DealDetailSerializer, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, id=None):
        return self._transition(services.deal_submit)

    @extend_schema(
        summary="Approve (staff): protection starts now",
        request=s.ApproveSerializer,
        responses={200: s.DealDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, id=None):
        return self._transition(services.deal_approve, s.ApproveSerializer)

    @extend_schema(
        summary="Reject (staff), with a reason the partner sees",
        request=s.ReasonSerializer,
        responses={200: s.DealDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, id=None):
        return self._transition(services.deal_reject, s.ReasonSerializer)

    @extend_schema(
        summary="Return for more information (staff), with a reason the partner sees",
        request=s.ReasonSerializer,
        responses={200: s.DealDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, id=None):
        return self._transition(services.deal_return, s.ReasonSerializer)

    @extend_schema(
        summary="Record as won, with the final amount",
        request=s.WonSerializer,
        responses={200: s.DealDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def won(self, request, id=None):
        return self._transition(services.deal_mark_won, s.WonSerializer)

    @extend_schema(
        summary="Record as lost, with the reason",
        request=s.ReasonSerializer,
        responses={200: s.DealDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def lost(self, request, id=None):
        return self._transition(services.deal_mark_lost, s.ReasonSerializer)

    @extend_schema(
        summary="Ask for longer protection (partner), with a reason",
        request=s.ReasonSerializer,
        responses={201: s.ExtensionSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def extend(self, request, id=None):
        deal = self.get_object()
        data = self.parse(s.ReasonSerializer)
        extension = services.deal_request_extension(user=request.user, deal=deal, reason=data["reason"])
        return Response(s.ExtensionSerializer(extension).data, status=status.HTTP_201_CREATED)

    def _extension(self, deal, public_id):
        """The named request of this registration, or its pending one."""
        if public_id is not None:
            extension = selectors.extension_get(public_id)
            if extension.registration_id != deal.pk:
                raise Http404
            return extension
        for extension in selectors.extensions_of(deal):
            if extension.status == ExtensionStatus.PENDING:
                return extension
        raise StateError(_("No extension request of this registration is waiting for a decision."))

    @extend_schema(
        summary="Grant an extension request (staff)",
        request=s.ExtensionDecisionSerializer,
        responses={200: s.ExtensionSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="approve-extension", url_name="approve-extension")
    def approve_extension(self, request, id=None):
        deal = self.get_object()
        data = self.parse(s.ExtensionDecisionSerializer)
        extension = self._extension(deal, data.get("extension"))
        extension = services.deal_approve_extension(user=request.user, extension=extension, note=data["note"])
        return Response(s.ExtensionSerializer(extension).data)

    @extend_schema(
        summary="Refuse an extension request (staff), with a reason the partner sees",
        request=s.ExtensionRejectSerializer,
        responses={200: s.ExtensionSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="reject-extension", url_name="reject-extension")
    def reject_extension(self, request, id=None):
        deal = self.get_object()
        data = self.parse(s.ExtensionRejectSerializer)
        extension = self._extension(deal, data.get("extension"))
        extension = services.deal_reject_extension(user=request.user, extension=extension, reason=data["reason"])
        return Response(s.ExtensionSerializer(extension).data)


@extend_schema_view(
    list=extend_schema(summary="Conflicts between registrations (staff)"),
    retrieve=extend_schema(summary="A conflict with its evidence (staff)"),
)
class ConflictViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PRMViewSet):
    queryset = Conflict.objects.none()  # the model, for the schema; get_queryset comes from selectors
    serializer_class = s.ConflictSerializer
    filterset_class = filters.ConflictFilterSet
    ordering_fields = ["detected_at", "resolved_at"]
    ordering = ["detected_at"]
    permission_classes = [IsVendorStaff]

    def get_queryset(self):
        return selectors.conflict_list(status=None)

    def get_object_for_user(self, user, public_id):
        return selectors.conflict_get(public_id)

    @extend_schema(
        summary="Resolve a conflict: award to one side, co-sell, or reject both",
        request=s.ConflictResolveSerializer,
        responses={200: s.ConflictSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, id=None):
        conflict = self.get_object()
        data = self.parse(s.ConflictResolveSerializer)
        winner = None
        if data.get("winner"):
            sides = {conflict.registration_low.public_id: conflict.registration_low}
            sides[conflict.registration_high.public_id] = conflict.registration_high
            winner = sides.get(data["winner"])
            if winner is None:
                raise ValidationError({"winner": [_("Choose one of the two registrations.")]})
        conflict = services.conflict_resolve(
            user=request.user, conflict=conflict, outcome=data["outcome"], reason=data["reason"], winner=winner
        )
        return self.render(selectors.conflict_get(conflict.public_id))


@extend_schema_view(
    list=extend_schema(summary="Active products of active lines"),
    retrieve=extend_schema(summary="A product"),
)
class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read-only catalogue for every authenticated user. Staff manage products in the admin
    until a products service exists (see the report)."""

    queryset = Product.objects.none()
    serializer_class = s.ProductSerializer
    permission_classes = [permissions.IsAuthenticated]
    filter_backends = []

    def get_queryset(self):
        return selectors.product_choices()
