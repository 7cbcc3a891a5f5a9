"""The partners REST API, mounted under /api/v1/ by prm/urls.py (through partners/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from partners.api import certifications, views

router = SimpleRouter()
router.register("partners", views.PartnerViewSet, basename="partner")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("interactions", views.InteractionViewSet, basename="interaction")
router.register("users", views.PartnerUserViewSet, basename="partner-user")
router.register("invitations", views.InvitationViewSet, basename="invitation")
router.register("certifications", certifications.CertificationViewSet, basename="certification")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
