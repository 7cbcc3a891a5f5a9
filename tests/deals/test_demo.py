"""`manage.py seed_demo`, deals section: every status and queue has something to show,
conflicts carry evidence, Northwind has its spread and its conflict with Baltic, partners'
notifications stay confidential, nothing is e-mailed, and a second run adds nothing.

Seeding takes tens of seconds, so it runs once for the module inside a transaction that is
rolled back at the end (each test still runs in its own savepoint inside it).
"""

import datetime
import re
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from deals import selectors
from deals.demo import _due_today_moments
from deals.models import (
    Conflict,
    ConflictOutcome,
    ConflictStatus,
    DealFlag,
    DealProduct,
    DealRegistration,
    DealStatus,
    DirectAccount,
    EndCustomer,
    ExtensionStatus,
    Holiday,
    Product,
    ProductLine,
    ProtectionExtension,
)
from deals.services import sla
from partners.models import Partner
from prm.models import AuditLog, Notification, User

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
CJK = re.compile(r"[\u4e00-\u9fff]")
DEALS_MODELS = (
    ProductLine,
    Product,
    Holiday,
    DirectAccount,
    EndCustomer,
    DealRegistration,
    DealProduct,
    Conflict,
    ProtectionExtension,
    Notification,
    AuditLog,
    User,
)


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        callbacks_before = len(connection.run_on_commit)
        started = time.monotonic()
        out = StringIO()
        call_command("seed_demo", "--allow-without-debug", stdout=out)
        yield {
            "output": out.getvalue(),
            "seconds": time.monotonic() - started,
            "on_commit_callbacks": len(connection.run_on_commit) - callbacks_before,
        }
        transaction.set_rollback(True)


@pytest.fixture
def demo(seeded, db):
    return seeded


def _northwind_and_baltic():
    return Partner.objects.get(name="Northwind Systems"), Partner.objects.get(name="Baltic Trade House")


def test_seed_demo_deals_section_reports_its_counts(demo):
    # Timing is reported, not asserted: speed targets belong in `make bench`.
    print(f"seed_demo (partners + deals) took {demo['seconds']:.1f} s")
    assert "deal registrations: submitted" in demo["output"]


def test_seed_demo_deals_cover_every_status(demo):
    counts = {status: DealRegistration.objects.filter(status=status).count() for status in DealStatus.values}
    assert all(n > 0 for n in counts.values()), counts
    assert 1800 <= sum(counts.values()) <= 2300
    assert counts[DealStatus.WON] > 300 and counts[DealStatus.APPROVED] > 100
    # Spread over the past year, in several currencies, with final amounts and reasons.
    now = timezone.now()
    assert DealRegistration.objects.filter(created_at__lt=now - datetime.timedelta(days=300)).exists()
    assert DealRegistration.objects.values("currency").distinct().count() >= 4
    assert not DealRegistration.objects.filter(status=DealStatus.WON, final_amount__isnull=True).exists()
    assert not DealRegistration.objects.filter(status=DealStatus.LOST, lost_reason="").exists()
    assert not DealRegistration.objects.filter(status=DealStatus.REJECTED, decision_reason="").exists()
    assert not DealRegistration.objects.filter(created_at__gt=now).exists()


def test_seed_demo_review_queue_has_overdue_and_due_today(demo):
    now = timezone.now()
    submitted = DealRegistration.objects.filter(status=DealStatus.SUBMITTED)
    assert submitted.filter(review_due_at__lt=now).count() >= 10
    assert submitted.filter(review_due_at__gt=now).exists()
    # Live registrations happened when their clock said, not all "now".
    assert submitted.filter(created_at__lt=now - datetime.timedelta(days=3)).exists()
    if _due_today_moments(now):  # only on a working day with business hours left
        zone = sla.business_zone()
        tomorrow = now.astimezone(zone).date() + datetime.timedelta(days=1)
        end_of_day = datetime.datetime.combine(tomorrow, datetime.time(0), tzinfo=zone)
        assert submitted.filter(review_due_at__gt=now, review_due_at__lt=end_of_day).exists()


def test_seed_demo_approved_include_expiring_and_extensions(demo):
    now = timezone.now()
    approved = DealRegistration.objects.filter(status=DealStatus.APPROVED)
    assert (
        approved.filter(protected_until__lte=now + datetime.timedelta(days=14), protected_until__gt=now).count() >= 10
    )
    assert not approved.filter(protected_until__lte=now).exists()  # the expiry job has run
    statuses = set(ProtectionExtension.objects.values_list("status", flat=True))
    assert {ExtensionStatus.PENDING, ExtensionStatus.APPROVED, ExtensionStatus.REJECTED} <= statuses
    for extension in ProtectionExtension.objects.filter(status=ExtensionStatus.APPROVED):
        assert extension.new_protected_until > extension.previous_protected_until


def test_seed_demo_open_conflicts_exist_with_evidence(demo):
    open_conflicts = list(
        Conflict.objects.filter(status=ConflictStatus.OPEN).select_related(
            "registration_low__partner", "registration_high__partner"
        )
    )
    assert 12 <= len(open_conflicts) <= 25
    matched_on = set()
    for conflict in open_conflicts:
        assert conflict.registration_low.partner_id != conflict.registration_high.partner_id
        assert conflict.matched_fields and conflict.evidence
        assert conflict.evidence["detected_on"] in (
            conflict.registration_low.reference,
            conflict.registration_high.reference,
        )
        assert 0 < conflict.similarity <= 1
        matched_on.add(tuple(sorted(conflict.matched_fields)))
    assert any("tax_id" in fields for fields in matched_on)
    assert ("name",) in matched_on  # a look-alike name with no shared key
    assert ("domain", "name") in matched_on  # same website, another tax id
    resolved = Conflict.objects.filter(status=ConflictStatus.RESOLVED)
    assert 8 <= resolved.count() <= 20
    outcomes = set(resolved.values_list("outcome", flat=True))
    assert {ConflictOutcome.AWARD, ConflictOutcome.CO_SELL, ConflictOutcome.REJECT_BOTH} <= outcomes
    assert not resolved.filter(reason="").exists()


def test_seed_demo_flags_direct_accounts_and_self_dealing(demo):
    assert 25 <= DirectAccount.objects.count() <= 40
    direct = DealRegistration.objects.filter(flags__contains=[DealFlag.DIRECT_ACCOUNT])
    self_dealing = DealRegistration.objects.filter(flags__contains=[DealFlag.SELF_DEALING])
    assert direct.count() >= 2 and self_dealing.count() >= 2
    for deal in direct:
        assert deal.flag_evidence[DealFlag.DIRECT_ACCOUNT]["accounts"]
    for deal in self_dealing:
        assert deal.flag_evidence[DealFlag.SELF_DEALING]["matched"]


def test_seed_demo_northwind_has_a_spread_and_a_conflict_with_baltic(demo):
    northwind, baltic = _northwind_and_baltic()
    mine = DealRegistration.objects.filter(partner=northwind)
    statuses = set(mine.values_list("status", flat=True))
    assert {
        DealStatus.DRAFT,
        DealStatus.SUBMITTED,
        DealStatus.RETURNED,
        DealStatus.APPROVED,
        DealStatus.REJECTED,
        DealStatus.WON,
        DealStatus.LOST,
    } <= statuses
    # Both cabinet log-ins registered some.
    assert set(mine.values_list("submitted_by__email", flat=True)) >= {"partner@demo.prm", "rep@demo.prm"}
    conflict = Conflict.objects.get(
        Q(registration_low__partner=northwind, registration_high__partner=baltic)
        | Q(registration_low__partner=baltic, registration_high__partner=northwind),
        status=ConflictStatus.OPEN,
    )
    assert conflict.matched_fields
    assert ProtectionExtension.objects.filter(registration__partner=northwind, status=ExtensionStatus.PENDING).exists()


def test_seed_demo_northwind_notifications_never_reveal_baltic(demo):
    northwind, baltic = _northwind_and_baltic()
    conflict = Conflict.objects.get(
        Q(registration_low__partner=baltic, registration_high__partner=northwind)
        | Q(registration_low__partner=northwind, registration_high__partner=baltic),
        status=ConflictStatus.OPEN,
    )
    theirs = (
        conflict.registration_low if conflict.registration_low.partner_id == baltic.pk else conflict.registration_high
    )
    notes = Notification.objects.filter(user__partner=northwind)
    assert notes.filter(kind="deal.conflict").exists()
    text = "\n".join(f"{n.title}\n{n.body}\n{n.url}" for n in notes)
    for secret in (baltic.name, baltic.legal_name, theirs.reference, theirs.title, str(theirs.public_id)):
        assert secret not in text
    assert f"{theirs.value:.2f}" not in text and f"{theirs.value:.0f}" not in text


def test_seed_demo_every_staff_queue_of_the_manager_has_work(demo):
    manager = User.objects.get(email="manager@demo.prm")
    assert selectors.review_queue(manager=manager).exists()
    assert selectors.conflict_list(manager=manager).exists()
    assert selectors.protection_expiring(14, user=manager).exists()
    assert selectors.extension_queue().exists()
    # Something in the review queue is already past its SLA.
    assert selectors.review_queue(manager=manager).filter(review_due_at__lt=timezone.now()).exists()


def test_seed_demo_catalogue_and_customers_in_three_scripts(demo):
    assert 12 <= Product.objects.count() <= 20
    assert ProductLine.objects.count() >= 4
    assert not Product.objects.filter(sku="").exists()
    names = list(EndCustomer.objects.values_list("name", flat=True))
    assert 1300 <= len(names) <= 1700
    assert sum(1 for n in names if CYRILLIC.search(n)) >= 300
    assert sum(1 for n in names if CJK.search(n)) >= 150
    assert sum(1 for n in names if n.isascii() and not CYRILLIC.search(n)) >= 150
    assert any("«" in n and n.startswith("ООО") for n in names)
    assert any(n.endswith("GmbH") for n in names) and any(n.endswith("Ltd") for n in names)
    assert any(n.endswith("有限公司") for n in names)
    assert EndCustomer.objects.exclude(domain="").count() > 1000
    assert EndCustomer.objects.exclude(tax_id="").count() > 1000


def test_seed_demo_queues_no_emails_and_restores_preferences(demo):
    assert demo["on_commit_callbacks"] == 0
    assert Notification.objects.count() > 100
    assert not User.objects.filter(email_notifications=False).exists()
    assert not Notification.objects.filter(emailed_at__isnull=False).exists()


def test_seed_demo_second_run_adds_nothing(demo):
    before = {model.__name__: model.objects.count() for model in DEALS_MODELS}
    out = StringIO()
    call_command("seed_demo", "--allow-without-debug", stdout=out)
    assert "nothing to do" in out.getvalue()
    assert {model.__name__: model.objects.count() for model in DEALS_MODELS} == before


def test_seed_demo_fills_the_dashboards(demo):
    # Forecasts section (deals.demo_forecasts): targets, commits and one nightly run.
    from deals import dashboard
    from deals.models import ForecastRun, ForecastSnapshot, PartnerCommit, PartnerHealth, Target
    from partners.models import PartnerStatus
    from prm.models import Role

    today = timezone.localdate()
    managers = User.objects.filter(role=Role.CHANNEL_MANAGER, owned_partners__isnull=False).distinct()
    year, quarter = dashboard.quarter_of(today)
    for manager in managers:
        assert Target.objects.filter(manager=manager, year=year, quarter=quarter).exists(), manager
        assert Target.objects.filter(manager=manager).count() == 8  # four past and four coming quarters
    assert PartnerCommit.objects.filter(year=year, quarter=quarter).count() >= 10
    assert ForecastRun.objects.get(as_of=today).status == "done"
    assert ForecastSnapshot.objects.filter(as_of=today, partner__isnull=True).count() == 4
    channel = Partner.objects.filter(status__in=["onboarding", "active", "suspended"])
    assert PartnerHealth.objects.count() == channel.count()
    assert len(set(PartnerHealth.objects.values_list("band", flat=True))) >= 2
    assert Partner.objects.filter(status=PartnerStatus.ACTIVE, is_dormant=True).exists()
    admin = User.objects.get(email="admin@demo.prm")
    summary = dashboard.dashboard_summary(user=admin)
    assert sum(s["count"] for s in summary.pipeline_by_stage) > 50
    assert summary.pipeline_by_quarter[0]["forecast"] > 0 and summary.pipeline_by_quarter[0]["target"] > 0
    assert summary.revenue_concentration["top20_share"] > 0.5
    assert any(sum(s["values"]) > 0 for s in summary.revenue_by_tier_by_month["series"])
    assert summary.active_dormant_by_month[-1]["dormant"] > 0
    rows = dashboard.kpi_scorecard(user=admin, year=year, quarter=quarter)
    assert any(r["fulfilment_pct"] for r in rows)


# --- leads section (deals.demo_leads) -------------------------------------------------------


def test_seed_demo_leads_every_status_inbox_and_breakdowns(demo):
    from deals.models import Lead, LeadOffer, LeadOfferStatus, LeadStatus, RoutingDecision, RoutingRule
    from deals.selectors_leads import fairness_stats, lead_inbox

    assert "leads (history)" in demo["output"]
    assert RoutingRule.objects.count() == 3
    assert Lead.objects.count() >= 600
    for status in (LeadStatus.OFFERED, LeadStatus.ACCEPTED, LeadStatus.UNASSIGNED, LeadStatus.CLOSED):
        assert Lead.objects.filter(status=status).exists(), status
    for status in (LeadOfferStatus.DECLINED, LeadOfferStatus.EXPIRED, LeadOfferStatus.ACCEPTED):
        assert LeadOffer.objects.filter(status=status).exists(), status
    # Accepted leads became approved (then won / lost / expired) registrations of that partner.
    for lead in Lead.objects.filter(status=LeadStatus.ACCEPTED).select_related("registration")[:50]:
        assert lead.registration.partner_id == lead.offered_to_id
        assert lead.registration.status in {DealStatus.APPROVED, DealStatus.WON, DealStatus.LOST, DealStatus.EXPIRED}
    # A partner never got the same lead twice; declined offers carry a reason.
    assert not LeadOffer.objects.filter(status=LeadOfferStatus.DECLINED, decline_reason="").exists()
    # Names in three scripts.
    names = list(Lead.objects.values_list("customer_name", flat=True))
    assert any(CYRILLIC.search(n) for n in names) and any(CJK.search(n) for n in names)
    # The demo partner's inbox is not empty; decisions explain themselves.
    partner = User.objects.get(email="partner@demo.prm")
    assert lead_inbox(user=partner).count() >= 3
    routed = RoutingDecision.objects.exclude(band="none").exclude(manual=True).first()
    assert routed.candidates and routed.candidates[0]["probability"] > 0
    assert len(fairness_stats()) > 10
