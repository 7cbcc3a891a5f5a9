"""Staff pages for leads (the `staff:` namespace): the lead board, a lead with its routing
explanation ("why this partner") and manual re-assignment, routing rules, the fairness report
and the CSV import with its progress bar. Thin adapters over deals.selectors_leads and
deals.services; partner users get 404 everywhere here (StaffRequiredMixin)."""

import base64
import uuid
import zlib

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from deals import lead_import, selectors_leads, services
from deals.forms.leads import (
    FairnessFilterForm,
    LeadCloseForm,
    LeadFilterForm,
    LeadImportUploadForm,
    LeadReassignForm,
)
from deals.models import LeadImport, LeadImportStatus, LeadStatus
from partners.models import Partner
from partners.selectors import partner_get_for_user
from prm.exceptions import ApplicationError
from prm.money import base_currency
from prm.permissions import StaffRequiredMixin
from prm.web import csv_response, form_add_service_errors, is_htmx

PAGE_SIZE = 50
PREVIEW_SESSION_KEY = "lead_import_preview"
PREVIEW_ROWS_SHOWN = 200

# Why partners were left out of a routing decision (keys as deals.routing records them).
EXCLUSION_LABELS = {
    "inactive": gettext_lazy("not active"),
    "already_offered": gettext_lazy("offered this lead before (declined, timed out or withdrawn)"),
    "type": gettext_lazy("partner type not in the rule's pool"),
    "tier": gettext_lazy("tier not in the rule's pool"),
    "specialisation": gettext_lazy("not specialised in the product line"),
    "capacity": gettext_lazy("at capacity (open leads)"),
    "zero_weight": gettext_lazy("weight 0"),
    "farther_in_country": gettext_lazy("in the country, but farther than the nearest band"),
    "abroad_not_needed": gettext_lazy("abroad (the country has eligible partners)"),
    "farther_abroad": gettext_lazy("abroad, farther than the nearest"),
    "abroad_not_allowed": gettext_lazy("abroad, and the rule keeps leads in the country"),
    "abroad_out_of_reach": gettext_lazy("abroad, out of reach (another region, or no coordinates)"),
}


def _iso(value) -> str:
    return value.isoformat() if value else ""


def _exclusion_label(reason: str) -> str:
    return str(EXCLUSION_LABELS.get(reason, reason.replace("_", " ")))


# --- the lead board ------------------------------------------------------------------------


def _board(request):
    form = LeadFilterForm(request.GET or None)
    qs = selectors_leads.lead_list_for_user(user=request.user, filters=form.filters())
    return form, qs.order_by(*form.ordering())


class LeadListView(StaffRequiredMixin, View):
    def get(self, request):
        form, qs = _board(request)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "form": form,
            "page_obj": page,
            "leads": page.object_list,
            "statuses": LeadStatus.choices,
            "current_status": request.GET.get("status", ""),
            "query_string": request.GET.urlencode(),
            "now": timezone.now(),
        }
        return render(request, "staff/leads/list.html", context)


class LeadExportView(StaffRequiredMixin, View):
    def get(self, request):
        _form, qs = _board(request)

        def rows():
            yield [
                _("Reference"),
                _("Status"),
                _("Customer"),
                _("Country"),
                _("City"),
                _("Product line"),
                _("Estimated value"),
                _("Currency"),
                _("Source"),
                _("Offered to"),
                _("Offer expires"),
                _("Registration"),
                _("Created"),
            ]
            for lead in qs.iterator(chunk_size=500):
                yield [
                    lead.reference,
                    lead.get_status_display(),
                    lead.customer_name,
                    lead.country,
                    lead.city,
                    lead.product_line.name if lead.product_line else "",
                    lead.estimated_value if lead.estimated_value is not None else "",
                    lead.currency,
                    lead.get_source_display(),
                    lead.offered_to.name if lead.offered_to else "",
                    _iso(lead.offer_expires_at),
                    lead.registration.reference if lead.registration else "",
                    _iso(lead.created_at),
                ]

        return csv_response(rows(), f"leads-{timezone.now():%Y%m%d}.csv")


# --- one lead ------------------------------------------------------------------------------


def _decision_rows(lead):
    """Each routing decision with its candidates (most likely first), how many partners of the
    band are not listed and their combined odds, and the exclusion counts."""
    rows = []
    for decision in lead.decisions.all():
        candidates = sorted(
            decision.candidates or [], key=lambda c: (-(c.get("probability") or 0), str(c.get("name", "")))
        )
        for c in candidates:
            probability = c.get("probability")
            c["percent"] = None if probability is None else round(probability * 100, 1)
            acc, win = c.get("acceptance_boost"), c.get("win_boost")
            c["boost"] = None if acc is None and win is None else (acc or 1) * (win or 1)
            c["chosen"] = decision.partner_id is not None and c.get("partner_id") == decision.partner_id
        # The decision lists the heaviest candidates of its band (routing.SHOWN_CANDIDATES) and
        # the chosen one; the rest of the band shares what the listed ones leave of 100 %.
        unlisted = max(0, (decision.candidate_count or 0) - len(candidates))
        listed = [c["probability"] for c in candidates if c.get("probability") is not None]
        unlisted_percent = round(max(0.0, 1 - sum(listed)) * 100, 1) if unlisted and listed else None
        exclusions = decision.exclusions or {}
        counts = sorted((exclusions.get("counts") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        rows.append(
            {
                "decision": decision,
                "candidates": candidates,
                "candidate_count": decision.candidate_count,
                "unlisted": unlisted,
                "unlisted_percent": unlisted_percent,
                "exclusions": [{"reason": r, "label": _exclusion_label(r), "count": n} for r, n in counts],
                "excluded_total": sum(n for _r, n in counts),
                "sample": [
                    {**s, "label": _exclusion_label(str(s.get("reason", "")))} for s in exclusions.get("sample") or []
                ],
            }
        )
    return rows


def _lead_context(request, lead, reassign_form=None, close_form=None):
    decisions = _decision_rows(lead)
    return {
        "lead": lead,
        "decisions": decisions,
        "latest": decisions[-1] if decisions else None,
        "offers": list(lead.offers.all()),
        "can_route": lead.status in (LeadStatus.NEW, LeadStatus.UNASSIGNED),
        "can_reassign": lead.status in (LeadStatus.NEW, LeadStatus.OFFERED, LeadStatus.UNASSIGNED),
        "reassign_form": reassign_form or LeadReassignForm(),
        "close_form": close_form or LeadCloseForm(prefix="close"),
        "now": timezone.now(),
    }


class LeadDetailView(StaffRequiredMixin, View):
    def get(self, request, public_id):
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        return render(request, "staff/leads/detail.html", _lead_context(request, lead))


class LeadRouteView(StaffRequiredMixin, View):
    """ "Route now" for a new or unassigned lead."""

    def post(self, request, public_id):
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        try:
            decision = services.lead_route(actor=request.user, lead=lead)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            if decision.partner_id:
                messages.success(
                    request,
                    _("Lead %(ref)s offered to %(partner)s.") % {"ref": lead.reference, "partner": decision.partner},
                )
            else:
                messages.warning(request, _("No partner is available for lead %(ref)s.") % {"ref": lead.reference})
        return redirect("staff:lead_detail", public_id=lead.public_id)


class LeadReassignView(StaffRequiredMixin, View):
    def post(self, request, public_id):
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        form = LeadReassignForm(request.POST)
        if form.is_valid():
            try:
                services.lead_reassign(
                    actor=request.user,
                    lead=lead,
                    partner=form.cleaned_data["partner"],
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Lead %(ref)s re-assigned to %(partner)s.")
                    % {"ref": lead.reference, "partner": form.cleaned_data["partner"].name},
                )
                return redirect("staff:lead_detail", public_id=lead.public_id)
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        return render(request, "staff/leads/detail.html", _lead_context(request, lead, form), status=400)


class LeadCloseView(StaffRequiredMixin, View):
    """Close a lead nobody should work on (a duplicate, spam, a customer served directly)."""

    def post(self, request, public_id):
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        form = LeadCloseForm(request.POST, prefix="close")
        if form.is_valid():
            try:
                services.lead_close(actor=request.user, lead=lead, reason=form.cleaned_data["reason"])
            except ApplicationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, _("Lead %(ref)s closed.") % {"ref": lead.reference})
                return redirect("staff:lead_detail", public_id=lead.public_id)
        lead = selectors_leads.lead_get_for_user(user=request.user, public_id=public_id)
        return render(request, "staff/leads/detail.html", _lead_context(request, lead, close_form=form), status=400)


# --- routing rules and fairness ------------------------------------------------------------


def _admin_url(name: str, *args) -> str:
    """The admin page for editing rules, or "" when that admin is not installed."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


class RoutingRuleListView(StaffRequiredMixin, View):
    def get(self, request):
        rules = list(selectors_leads.routing_rule_list())
        can_edit = request.user.is_staff and request.user.has_perm("deals.change_routingrule")
        for rule in rules:
            rule.admin_url = _admin_url("admin:deals_routingrule_change", rule.pk) if can_edit else ""
        context = {
            "rules": rules,
            "add_url": _admin_url("admin:deals_routingrule_add") if can_edit else "",
            "changelist_url": _admin_url("admin:deals_routingrule_changelist") if can_edit else "",
            "default_hours": settings.PRM["LEAD_ACCEPT_SLA_HOURS"],
        }
        return render(request, "staff/leads/rules.html", context)


FAIRNESS_HEADER = [
    gettext_lazy("Partner"),
    gettext_lazy("Offered"),
    gettext_lazy("Accepted"),
    gettext_lazy("Declined"),
    gettext_lazy("Timed out"),
    gettext_lazy("Won"),
    gettext_lazy("Acceptance rate %"),
    gettext_lazy("Median hours to accept"),
]


def _fairness(request):
    form = FairnessFilterForm(request.GET or None)
    since, period = form.bounds()
    stats = selectors_leads.fairness_stats(since=since)
    return form, period, since, stats


def _rate(row) -> str:
    rate = row.acceptance_rate
    return "" if rate is None else f"{rate * 100:.0f}"


class LeadFairnessView(StaffRequiredMixin, View):
    def get(self, request):
        form, period, since, stats = _fairness(request)
        if request.GET.get("format") == "csv":

            def rows():
                yield [str(h) for h in FAIRNESS_HEADER]
                for r in stats:
                    yield [
                        r.partner_name,
                        r.offered,
                        r.accepted,
                        r.declined,
                        r.timed_out,
                        r.won,
                        _rate(r),
                        "" if r.median_hours_to_accept is None else f"{r.median_hours_to_accept:.1f}",
                    ]

            return csv_response(rows(), f"lead-fairness-{period}-{timezone.now():%Y%m%d}.csv")
        public_ids = dict(Partner.objects.filter(pk__in=[r.partner_id for r in stats]).values_list("pk", "public_id"))
        rows = [{"stats": r, "rate": _rate(r), "public_id": public_ids.get(r.partner_id)} for r in stats]
        totals = {
            key: sum(getattr(r, key) for r in stats) for key in ("offered", "accepted", "declined", "timed_out", "won")
        }
        context = {"form": form, "period": period, "since": since, "rows": rows, "totals": totals}
        return render(request, "staff/leads/fairness.html", context)


class PartnerLeadStatsFragmentView(StaffRequiredMixin, View):
    """Loaded by the staff partner page with hx-get: this partner's lead fairness figures."""

    def get(self, request, public_id):
        partner = partner_get_for_user(user=request.user, public_id=public_id)
        form = FairnessFilterForm(request.GET or None)
        since, period = form.bounds()
        stats = selectors_leads.fairness_stats(partners=[partner.pk], since=since)
        row = stats[0] if stats else None
        context = {"partner": partner, "row": row, "rate": _rate(row) if row else "", "period": period}
        return render(request, "staff/leads/_partner_leads.html", context)


# --- CSV import ----------------------------------------------------------------------------


def _pack(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def _unpack(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode("utf-8") if packed else ""


class LeadImportTemplateView(StaffRequiredMixin, View):
    def get(self, request):
        return csv_response(lead_import.template_rows(), "leads-template.csv")


class LeadImportView(StaffRequiredMixin, View):
    """Upload → preview (nothing saved) → confirm (only a file without errors) → progress."""

    template_name = "staff/leads/import.html"

    def get(self, request):
        recent = LeadImport.objects.select_related("created_by").order_by("-created_at")[:10]
        context = {"form": LeadImportUploadForm(), "recent": recent, "base_currency": base_currency()}
        return render(request, self.template_name, context)

    def post(self, request):
        if request.POST.get("action") == "confirm":
            return self._confirm(request)
        form = LeadImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "base_currency": base_currency()}, status=400)
        upload = form.cleaned_data["file"]
        # Read at most one byte past the limit: parse() refuses an oversized file by its length.
        data = upload.read(lead_import.MAX_FILE_BYTES + 1)
        parsed = lead_import.parse(data, file_name=upload.name)
        text = data.decode("utf-8-sig") if parsed.is_valid else ""
        token = ""
        if parsed.is_valid:
            token = uuid.uuid4().hex
            # The previewed file waits in the session (compressed: sessions are saved on every
            # request) so that exactly what was previewed is what gets imported.
            request.session[PREVIEW_SESSION_KEY] = {"token": token, "file_name": upload.name, "text": _pack(text)}
        else:
            request.session.pop(PREVIEW_SESSION_KEY, None)
        context = {
            "form": LeadImportUploadForm(),
            "parsed": parsed,
            "file_name": upload.name,
            "rows": [
                {"row": r, "cells": [r.raw.get(c, "") for c in parsed.columns]}
                for r in parsed.rows[:PREVIEW_ROWS_SHOWN]
            ],
            "more_rows": max(0, len(parsed.rows) - PREVIEW_ROWS_SHOWN),
            "invalid_rows": parsed.invalid_rows,
            "columns": [(c, lead_import.COLUMNS[c][0]) for c in parsed.columns],
            "token": token,
            "base_currency": base_currency(),
        }
        return render(request, self.template_name, context, status=200 if parsed.is_valid else 400)

    def _confirm(self, request):
        stored = request.session.get(PREVIEW_SESSION_KEY) or {}
        if not stored or stored.get("token") != request.POST.get("token"):
            messages.error(request, _("That preview is no longer available. Upload the file again."))
            return redirect("staff:lead_import")
        text = _unpack(stored.get("text", ""))
        parsed = lead_import.parse(text)
        if not parsed.is_valid:
            # The catalogue changed since the preview (e.g. a product line was retired).
            messages.error(request, _("The file no longer passes the checks. Upload it again to see why."))
            return redirect("staff:lead_import")
        job = lead_import.lead_import_start(actor=request.user, file_name=stored["file_name"], text=text, parsed=parsed)
        del request.session[PREVIEW_SESSION_KEY]
        return redirect("staff:lead_import_detail", public_id=job.public_id)


def _import_error_text(error) -> str:
    """`LeadImport.errors` holds strings (the import task) or {row, messages} (the service)."""
    if isinstance(error, dict):
        return f"{error.get('row', '')}: {'; '.join(str(m) for m in error.get('messages', []))}".strip(": ")
    return str(error)


def _import_context(job):
    processed, total = lead_import.progress_of(job)
    return {
        "job": job,
        "processed": processed,
        "total": total,
        "percent": int(processed * 100 / total) if total else 0,
        "finished": job.status in (LeadImportStatus.DONE, LeadImportStatus.FAILED),
        "errors": [_import_error_text(e) for e in job.errors or []],
    }


class LeadImportDetailView(StaffRequiredMixin, View):
    """The progress bar (polled with htmx) and, when finished, the result."""

    def get(self, request, public_id):
        job = get_object_or_404(LeadImport.objects.select_related("created_by"), public_id=public_id)
        template = "staff/leads/_import_progress.html" if is_htmx(request) else "staff/leads/import_detail.html"
        return render(request, template, _import_context(job))


urlpatterns = [
    path("leads/", LeadListView.as_view(), name="lead_list"),
    path("leads/export.csv", LeadExportView.as_view(), name="lead_export"),
    path("leads/rules/", RoutingRuleListView.as_view(), name="routing_rule_list"),
    path("leads/fairness/", LeadFairnessView.as_view(), name="lead_fairness"),
    path("leads/import/", LeadImportView.as_view(), name="lead_import"),
    path("leads/import/template.csv", LeadImportTemplateView.as_view(), name="lead_import_template"),
    path("leads/import/<uuid:public_id>/", LeadImportDetailView.as_view(), name="lead_import_detail"),
    path("leads/<uuid:public_id>/", LeadDetailView.as_view(), name="lead_detail"),
    path("leads/<uuid:public_id>/route/", LeadRouteView.as_view(), name="lead_route"),
    path("leads/<uuid:public_id>/reassign/", LeadReassignView.as_view(), name="lead_reassign"),
    path("leads/<uuid:public_id>/close/", LeadCloseView.as_view(), name="lead_close"),
    path("partners/<uuid:public_id>/leads/", PartnerLeadStatsFragmentView.as_view(), name="partner_leads"),
]
