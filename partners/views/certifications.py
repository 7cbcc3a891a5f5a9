"""Certification pages: the staff list (`staff:certification_list`), the partner page's slot
(`staff:partner_certifications`, with add and revoke) and the cabinet list
(`cabinet:certification_list`). Thin adapters over selectors and services."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from partners import services
from partners.forms.certifications import CertificationFilterForm, CertificationForm
from partners.selectors import partner_get_for_user
from partners.selectors_certifications import certification_get_for_user, certification_list_for_user
from prm.exceptions import ApplicationError
from prm.permissions import PartnerUserRequiredMixin, StaffRequiredMixin
from prm.web import form_add_service_errors, is_htmx

PAGE_SIZE = 50
EXPIRING_SOON_DAYS = 30


def _annotate(certs, today):
    """Status for the badge: expired, expiring (within 30 days) or valid."""
    for cert in certs:
        if cert.expires_on is not None and cert.expires_on <= today:
            cert.state = "expired"
        elif cert.expires_on is not None and (cert.expires_on - today).days <= EXPIRING_SOON_DAYS:
            cert.state = "expiring"
        else:
            cert.state = "valid"
    return certs


class CertificationListView(StaffRequiredMixin, View):
    def get(self, request):
        form = CertificationFilterForm(request.GET or None)
        qs = certification_list_for_user(user=request.user, filters=form.filters() if form.is_bound else {})
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        certs = _annotate(list(page.object_list), timezone.localdate())
        context = {"form": form, "page_obj": page, "certs": certs}
        return render(request, "staff/certifications/list.html", context)


class PartnerCertificationsView(StaffRequiredMixin, View):
    """The partner page's certification slot (hx-get), and the add form posted to it."""

    def _render(self, request, partner, form, status=200):
        certs = certification_list_for_user(user=request.user, filters={"partner": partner})
        context = {"partner": partner, "certs": _annotate(list(certs), timezone.localdate()), "form": form}
        return render(request, "staff/certifications/_partner_certifications.html", context, status=status)

    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        return self._render(request, partner, CertificationForm(partner=partner))

    def post(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        form = CertificationForm(request.POST, partner=partner)
        if form.is_valid():
            try:
                services.certification_create(actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                if is_htmx(request):
                    return self._render(request, partner, CertificationForm(partner=partner))
                messages.success(request, _("Certification added."))
                return redirect(reverse("staff:partner_detail", args=[partner.public_id]) + "#sales")
        return self._render(request, partner, form, status=200 if is_htmx(request) else 400)


class CertificationRevokeView(StaffRequiredMixin, View):
    def post(self, request, public_id):
        cert = certification_get_for_user(user=request.user, public_id=public_id)
        partner = cert.contact.partner
        services.certification_revoke(actor=request.user, certification=cert, reason=request.POST.get("reason", ""))
        if is_htmx(request):
            return PartnerCertificationsView()._render(request, partner, CertificationForm(partner=partner))
        messages.success(request, _("Certification revoked."))
        return redirect(reverse("staff:partner_detail", args=[partner.public_id]))


class CabinetCertificationListView(PartnerUserRequiredMixin, View):
    def get(self, request):
        form = CertificationFilterForm(request.GET or None, staff=False)
        qs = certification_list_for_user(user=request.user, filters=form.filters() if form.is_bound else {})
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        certs = _annotate(list(page.object_list), timezone.localdate())
        return render(request, "cabinet/certifications/list.html", {"form": form, "page_obj": page, "certs": certs})


staff_urlpatterns = [
    path("certifications/", CertificationListView.as_view(), name="certification_list"),
    path("certifications/<uuid:public_id>/revoke/", CertificationRevokeView.as_view(), name="certification_revoke"),
    path(
        "partners/<uuid:public_id>/certifications/",
        PartnerCertificationsView.as_view(),
        name="partner_certifications",
    ),
]
cabinet_urlpatterns = [
    path("certifications/", CabinetCertificationListView.as_view(), name="certification_list"),
]
