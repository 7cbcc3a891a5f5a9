"""View mixins: one door each for staff pages and cabinet pages."""

from django.contrib.auth.mixins import AccessMixin
from django.http import Http404


class StaffRequiredMixin(AccessMixin):
    """Vendor staff only. Anonymous users go to log-in; partner users get 404 (no hint)."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_vendor_staff:
            raise Http404
        return super().dispatch(request, *args, **kwargs)


class PartnerUserRequiredMixin(AccessMixin):
    """Partner users only; `self.partner` is their company."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_partner_user:
            raise Http404
        self.partner = request.user.partner
        return super().dispatch(request, *args, **kwargs)


class PartnerAdminRequiredMixin(PartnerUserRequiredMixin):
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_partner_user and not request.user.is_partner_admin:
            raise Http404
        return super().dispatch(request, *args, **kwargs)
