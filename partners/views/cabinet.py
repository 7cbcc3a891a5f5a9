"""The partner cabinet: thin adapters over partners.selectors (reads) and partners.services (writes)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from partners import selectors, services
from partners.forms.cabinet import InvitationAcceptForm, InvitationForm, PartnerProfileForm, UserActiveForm
from prm.exceptions import ApplicationError, StateError
from prm.permissions import PartnerAdminRequiredMixin, PartnerUserRequiredMixin
from prm.web import form_add_service_errors

AGREEMENTS_PER_PAGE = 20


def _own_partner(user):
    """The user's company with its tier and channel manager, through the scoping selector."""
    return selectors.partner_list(user=user).get()


class ProfileView(PartnerUserRequiredMixin, TemplateView):
    template_name = "cabinet/profile.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(partner=_own_partner(self.request.user), **kwargs)


class ProfileEditView(PartnerAdminRequiredMixin, View):
    """Partner admins only; reps get 404 from the mixin, like any page they may not use."""

    template_name = "cabinet/profile_edit.html"

    def get(self, request):
        partner = _own_partner(request.user)
        return render(request, self.template_name, {"partner": partner, "form": PartnerProfileForm(partner=partner)})

    def post(self, request):
        partner = _own_partner(request.user)
        form = PartnerProfileForm(request.POST, partner=partner)
        if form.is_valid():
            try:
                services.partner_update_own_profile(actor=request.user, partner=partner, data=form.cleaned_data)
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Company profile saved."))
                return redirect("cabinet:profile")
        return render(request, self.template_name, {"partner": partner, "form": form})


def _render_team(request, partner, invite_form):
    context = {
        "members": selectors.partner_user_list(partner=partner),
        "invitations": selectors.invitation_list_open(partner=partner),
        "invite_form": invite_form,
        "invitation_ttl_hours": settings.PRM["INVITATION_TTL_HOURS"],
    }
    return render(request, "cabinet/team.html", context)


class TeamView(PartnerUserRequiredMixin, View):
    def get(self, request):
        return _render_team(request, self.partner, InvitationForm() if request.user.is_partner_admin else None)


class TeamInviteView(PartnerAdminRequiredMixin, View):
    def get(self, request):
        return redirect("cabinet:team")

    def post(self, request):
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                invitation, _token = services.invitation_create(
                    actor=request.user, partner=self.partner, **form.cleaned_data
                )
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
                return redirect("cabinet:team")
        return _render_team(request, self.partner, form)


class InvitationRevokeView(PartnerAdminRequiredMixin, View):
    def post(self, request, public_id):
        invitation = selectors.invitation_get_for_user(user=request.user, public_id=public_id)
        try:
            services.invitation_revoke(actor=request.user, invitation=invitation)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Invitation to %(email)s withdrawn.") % {"email": invitation.email})
        return redirect("cabinet:team")


class MemberSetActiveView(PartnerAdminRequiredMixin, View):
    def post(self, request, public_id):
        member = selectors.partner_user_get_for_user(user=request.user, public_id=public_id)
        form = UserActiveForm(request.POST)
        form.is_valid()  # a BooleanField(required=False) is always valid
        active = form.cleaned_data["active"]
        try:
            services.partner_user_set_active(actor=request.user, user=member, active=active)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            text = _("%(name)s can log in again.") if active else _("%(name)s can no longer log in.")
            messages.success(request, text % {"name": member.full_name})
        return redirect("cabinet:team")


class AgreementListView(PartnerUserRequiredMixin, View):
    def get(self, request):
        agreements = selectors.agreement_list_for_user(user=request.user).order_by("-starts_on", "-pk")
        page = Paginator(agreements, AGREEMENTS_PER_PAGE).get_page(request.GET.get("page"))
        return render(request, "cabinet/agreements.html", {"page_obj": page, "agreements": page.object_list})


class InvitationAcceptView(View):
    """Open to anonymous visitors: the token in the link is the credential."""

    template_name = "cabinet/invitation_accept.html"
    invalid_template_name = "cabinet/invitation_invalid.html"

    def get(self, request, token):
        invitation = services.invitation_get_by_token(token)
        if invitation is None:
            return self.invalid(request)
        return render(request, self.template_name, {"invitation": invitation, "form": InvitationAcceptForm()})

    def post(self, request, token):
        invitation = services.invitation_get_by_token(token)
        if invitation is None:
            return self.invalid(request)
        form = InvitationAcceptForm(request.POST)
        if form.is_valid():
            try:
                user = services.invitation_accept(
                    token=token, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
                )
            except StateError as exc:
                # Used, withdrawn or expired between the page load and the submit.
                return self.invalid(request, exc.message)
            except ApplicationError as exc:
                form_add_service_errors(form, exc, field_map={"password": "password1"})
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request, _("Welcome to the %(partner)s cabinet.") % {"partner": invitation.partner.name}
                )
                return redirect("cabinet:home")
        return render(request, self.template_name, {"invitation": invitation, "form": form})

    def invalid(self, request, message=""):
        # 410 Gone: the link existed once (or never did) and will not work again; the page says why.
        return render(request, self.invalid_template_name, {"message": message}, status=410)


urlpatterns = [
    # `cabinet:home` shows deals numbers, so the deals app routes it (deals.views.cabinet_home).
    path("company/", ProfileView.as_view(), name="profile"),
    path("company/edit/", ProfileEditView.as_view(), name="profile_edit"),
    path("team/", TeamView.as_view(), name="team"),
    path("team/invite/", TeamInviteView.as_view(), name="team_invite"),
    path("team/invitations/<uuid:public_id>/revoke/", InvitationRevokeView.as_view(), name="invitation_revoke"),
    path("team/members/<uuid:public_id>/active/", MemberSetActiveView.as_view(), name="member_set_active"),
    path("agreements/", AgreementListView.as_view(), name="agreements"),
    path("invite/<str:token>/", InvitationAcceptView.as_view(), name="invitation_accept"),
]
