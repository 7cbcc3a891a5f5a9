"""Deal registration services and selectors against the real database."""

import datetime as dt
import re
from decimal import Decimal
from unittest import mock

import pytest
from django.http import Http404
from django.utils import timezone

from deals import selectors, services
from deals.models import (
    Conflict,
    ConflictOutcome,
    ConflictStatus,
    DealFlag,
    DealRegistration,
    DealStage,
    DealStatus,
    DirectAccount,
    EndCustomer,
    ExtensionStatus,
)
from deals.services import sla
from prm.exceptions import ApplicationError, PermissionDenied, StateError
from prm.models import AuditLog, Notification, Role
from tests.deals import factories as deal_factories
from tests.deals.factories import (
    DirectAccountFactory,
    HolidayFactory,
    customer_data,
    make_deal,
)
from tests.factories import PartnerFactory, PartnerUserFactory, TierFactory

pytestmark = pytest.mark.django_db

# Shared fixtures from tests/deals/factories.py.
products = deal_factories.products
send_emails = deal_factories.send_emails

UTC = dt.UTC


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def clock(when: dt.datetime):
    return mock.patch("django.utils.timezone.now", return_value=when)


def approve(deal, manager):
    return services.deal_approve(user=manager, deal=deal)


@pytest.fixture
def partner_c(manager):
    return PartnerFactory(name="Gamma Group", legal_name="Gamma Group GmbH", owner=manager)


@pytest.fixture
def gamma_user(partner_c):
    return PartnerUserFactory(partner=partner_c, role=Role.PARTNER_ADMIN, email="admin@gamma.test")


# --- end customers ------------------------------------------------------------------------


def test_end_customer_get_or_create_reuses_record_by_tax_id():
    first, created = services.end_customer_get_or_create(name="ООО «Ромашка»", tax_id="7707 083 893")
    again, created_again = services.end_customer_get_or_create(name="Romashka LLC", tax_id="7707083893")
    assert created and not created_again
    assert again.pk == first.pk
    assert first.tax_id == "7707083893" and first.normalized_name == "ромашка"


def test_end_customer_get_or_create_reuses_record_by_domain_then_name():
    by_domain, _ = services.end_customer_get_or_create(name="Acme Corp", website="https://www.acme.com")
    same, created = services.end_customer_get_or_create(name="ACME Inc", email="buyer@sales.acme.com")
    assert same.pk == by_domain.pk and not created
    by_name, _ = services.end_customer_get_or_create(name="Beta GmbH", country="de")
    same_name, created = services.end_customer_get_or_create(name="BETA AG", country="DE")
    assert same_name.pk == by_name.pk and not created and by_name.country == "DE"


def test_end_customer_get_or_create_rejects_blank_name_and_bad_country():
    with pytest.raises(ApplicationError):
        services.end_customer_get_or_create(name="  ")
    with pytest.raises(ApplicationError):
        services.end_customer_get_or_create(name="Acme", country="Russia")
    assert EndCustomer.objects.count() == 0


def test_end_customer_update_recomputes_keys_and_audits(manager):
    customer, _ = services.end_customer_get_or_create(name="Acme", website="acme.com")
    services.end_customer_update(user=manager, customer=customer, name="Acme Holding Ltd", website="https://acme.org")
    customer.refresh_from_db()
    assert (customer.normalized_name, customer.domain) == ("acme holding", "acme.org")
    assert AuditLog.objects.filter(action="end_customer.update", object_id=str(customer.pk)).exists()


def test_end_customer_update_denied_to_partner_users(partner_admin):
    customer, _ = services.end_customer_get_or_create(name="Acme")
    with pytest.raises(PermissionDenied):
        services.end_customer_update(user=partner_admin, customer=customer, name="Hacked")


# --- create and submit --------------------------------------------------------------------


def test_deal_create_issues_reference_and_audits(partner_admin, products):
    deal = make_deal(user=partner_admin, products=products[:2], title="Firewall refresh")
    second = make_deal(user=partner_admin, customer=customer_data(tax_id="1", name="Other"))
    year = timezone.now().year
    assert re.fullmatch(rf"DR-{year}-\d{{6}}", deal.reference)
    assert int(second.reference[-6:]) == int(deal.reference[-6:]) + 1
    assert deal.status == DealStatus.DRAFT and deal.submitted_at is None
    assert deal.probability == 10 and deal.stage == DealStage.QUALIFICATION
    assert sorted(deal.products.values_list("pk", flat=True)) == sorted(p.pk for p in products[:2])
    entry = AuditLog.objects.get(action="deal.create", object_id=str(deal.pk))
    assert entry.partner_id == deal.partner_id and entry.after["products"] == sorted(p.pk for p in products[:2])


def test_deal_create_rejects_negative_value_and_writes_nothing(partner_admin):
    with pytest.raises(ApplicationError) as exc:
        make_deal(user=partner_admin, value="-1")
    assert "value" in exc.value.fields
    assert DealRegistration.objects.count() == 0


def test_deal_create_rejects_inactive_partner(partner_admin, partner_a):
    partner_a.status = "suspended"
    partner_a.save()
    with pytest.raises(ApplicationError):
        make_deal(user=partner_admin)


def test_deal_create_denied_for_another_partner(other_partner_user, partner_a):
    with pytest.raises(PermissionDenied):
        make_deal(user=other_partner_user, partner=partner_a)


def test_deal_create_by_staff_on_behalf_of_partner(manager, partner_a):
    deal = make_deal(user=manager, partner=partner_a, submit=True)
    assert deal.status == DealStatus.SUBMITTED and deal.submitted_by == manager


def test_deal_submit_sets_server_time_sla_and_notifies(partner_rep, partner_admin, manager):
    monday = at(2026, 3, 2, 10, 0)
    with clock(monday):
        deal = make_deal(user=partner_rep, submit=True, expected_close_date=dt.date(2026, 6, 1))
    assert deal.status == DealStatus.SUBMITTED
    assert deal.submitted_at == monday == deal.last_submitted_at
    assert deal.review_due_at == at(2026, 3, 4, 10, 0)  # 2 business days
    assert deal.review_reminder_at == at(2026, 3, 3, 14, 30)  # 75 % of 18 business hours
    staff_note = Notification.objects.get(user=manager, kind="deal.review")
    assert deal.reference in staff_note.title and "Alpha Systems" in staff_note.title
    assert set(Notification.objects.filter(kind="deal.submitted").values_list("user__email", flat=True)) == {
        "rep@alpha.test",
        "admin@alpha.test",
    }
    assert AuditLog.objects.filter(action="deal.submit", object_id=str(deal.pk)).exists()


def test_deal_submit_rejects_past_close_date_and_changes_nothing(partner_admin):
    deal = make_deal(user=partner_admin, expected_close_date=timezone.localdate() - dt.timedelta(days=1))
    with pytest.raises(ApplicationError):
        services.deal_submit(user=partner_admin, deal=deal)
    deal.refresh_from_db()
    assert deal.status == DealStatus.DRAFT


def test_deal_update_edits_draft_and_records_diff(partner_admin, products):
    deal = make_deal(user=partner_admin, products=[products[0]])
    services.deal_update(
        user=partner_admin, deal=deal, value="5.50", stage=DealStage.PROPOSAL, products=[products[1]], title="New"
    )
    deal.refresh_from_db()
    assert (deal.value, deal.stage, deal.probability, deal.title) == (Decimal("5.50"), "proposal", 50, "New")
    assert list(deal.products.values_list("pk", flat=True)) == [products[1].pk]
    entry = AuditLog.objects.get(action="deal.update")
    assert entry.before["products"] == [products[0].pk] and entry.after["products"] == [products[1].pk]


def test_deal_update_progress_on_approved_sets_probability(partner_admin, manager):
    deal = approve(make_deal(user=partner_admin, submit=True), manager)
    services.deal_update_progress(user=partner_admin, deal=deal, stage=DealStage.COMMIT, value="10")
    deal.refresh_from_db()
    assert (deal.stage, deal.probability, deal.value) == ("commit", 90, Decimal("10.00"))


def test_deal_update_by_colleague_rep_denied(partner_a, partner_rep):
    colleague = PartnerUserFactory(partner=partner_a, role=Role.PARTNER_REP, email="rep2@alpha.test")
    deal = make_deal(user=colleague)
    with pytest.raises(PermissionDenied):
        services.deal_update(user=partner_rep, deal=deal, title="mine now")


# --- every transition, legal and illegal --------------------------------------------------


def _deal_in(status, *, user, manager):
    deal = make_deal(user=user, customer=customer_data(tax_id="555", name=f"Customer {status}"))
    if status == DealStatus.DRAFT:
        return deal
    deal = services.deal_submit(user=user, deal=deal)
    if status == DealStatus.SUBMITTED:
        return deal
    if status == DealStatus.REJECTED:
        return services.deal_reject(user=manager, deal=deal, reason="No budget")
    if status == DealStatus.RETURNED:
        return services.deal_return(user=manager, deal=deal, reason="Add the tender number")
    deal = approve(deal, manager)
    if status == DealStatus.WON:
        return services.deal_mark_won(user=user, deal=deal, final_amount="900")
    if status == DealStatus.LOST:
        return services.deal_mark_lost(user=user, deal=deal, reason="Price")
    return deal


ACTIONS = {
    "submit": (lambda d, u, m: services.deal_submit(user=u, deal=d), {DealStatus.DRAFT, DealStatus.RETURNED}),
    "update": (
        lambda d, u, m: services.deal_update(user=u, deal=d, title="x"),
        {DealStatus.DRAFT, DealStatus.RETURNED},
    ),
    "approve": (lambda d, u, m: services.deal_approve(user=m, deal=d), {DealStatus.SUBMITTED}),
    "reject": (lambda d, u, m: services.deal_reject(user=m, deal=d, reason="r"), {DealStatus.SUBMITTED}),
    "return": (lambda d, u, m: services.deal_return(user=m, deal=d, reason="r"), {DealStatus.SUBMITTED}),
    "won": (lambda d, u, m: services.deal_mark_won(user=u, deal=d, final_amount="1"), {DealStatus.APPROVED}),
    "lost": (lambda d, u, m: services.deal_mark_lost(user=u, deal=d, reason="r"), {DealStatus.APPROVED}),
    "progress": (
        lambda d, u, m: services.deal_update_progress(user=u, deal=d, stage=DealStage.COMMIT),
        {DealStatus.SUBMITTED, DealStatus.APPROVED},
    ),
}
STATES = [
    DealStatus.DRAFT,
    DealStatus.SUBMITTED,
    DealStatus.APPROVED,
    DealStatus.REJECTED,
    DealStatus.RETURNED,
    DealStatus.WON,
    DealStatus.LOST,
]


@pytest.mark.parametrize("status", STATES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_deal_transition_matrix_allows_only_legal_moves(status, action, partner_admin, manager):
    deal = _deal_in(status, user=partner_admin, manager=manager)
    func, allowed = ACTIONS[action]
    audit_before, notes_before = AuditLog.objects.count(), Notification.objects.count()
    snapshot = DealRegistration.objects.filter(pk=deal.pk).values().get()
    if status in allowed:
        func(deal, partner_admin, manager)
        assert AuditLog.objects.count() > audit_before
        return
    with pytest.raises(StateError) as exc:
        func(deal, partner_admin, manager)
    assert exc.value.message  # a sentence for the user
    assert DealRegistration.objects.filter(pk=deal.pk).values().get() == snapshot
    assert AuditLog.objects.count() == audit_before
    assert Notification.objects.count() == notes_before


def test_deal_return_then_resubmit_keeps_priority_and_restarts_sla(partner_admin, manager):
    with clock(at(2026, 3, 2, 10, 0)):
        deal = make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2026, 9, 1))
        services.deal_return(user=manager, deal=deal, reason="Which department?")
    deal.refresh_from_db()
    assert deal.decision_reason == "Which department?"
    with clock(at(2026, 3, 5, 11, 0)):
        services.deal_update(user=partner_admin, deal=deal, description="IT department")
        deal = services.deal_submit(user=partner_admin, deal=deal)
    assert deal.submitted_at == at(2026, 3, 2, 10, 0)
    assert deal.last_submitted_at == at(2026, 3, 5, 11, 0) and deal.submission_count == 2
    assert deal.review_due_at == at(2026, 3, 9, 11, 0)
    assert deal.decision_reason == ""
    assert AuditLog.objects.filter(action="deal.resubmit").count() == 1


def test_deal_review_actions_need_reason_and_staff(partner_admin, manager):
    deal = make_deal(user=partner_admin, submit=True)
    with pytest.raises(ApplicationError):
        services.deal_reject(user=manager, deal=deal, reason="  ")
    with pytest.raises(PermissionDenied):
        services.deal_approve(user=partner_admin, deal=deal)
    with pytest.raises(ApplicationError):
        services.deal_mark_lost(user=partner_admin, deal=deal, reason="")
    deal.refresh_from_db()
    assert deal.status == DealStatus.SUBMITTED


def test_deal_reject_notifies_partner_with_reason(partner_admin, manager):
    deal = make_deal(user=partner_admin, submit=True)
    services.deal_reject(user=manager, deal=deal, reason="Customer is not in our territory")
    note = Notification.objects.get(user=partner_admin, kind="deal.rejected")
    assert "Customer is not in our territory" in note.body


def test_deal_mark_won_records_final_amount(partner_admin, manager):
    deal = approve(make_deal(user=partner_admin, submit=True), manager)
    deal = services.deal_mark_won(user=partner_admin, deal=deal, final_amount="1234.5")
    assert deal.final_amount == Decimal("1234.50") and deal.closed_at is not None
    assert Notification.objects.filter(user=manager, kind="deal.won").exists()
    with pytest.raises(ApplicationError):
        services.deal_mark_won(user=partner_admin, deal=make_deal(user=partner_admin), final_amount="-5")


# --- approval and protection --------------------------------------------------------------


@pytest.mark.parametrize(("days", "expected"), [(30, 30), (60, 60), (120, 120), (0, None)])
def test_deal_approve_protects_for_tier_days(days, expected, partner_a, partner_admin, manager):
    partner_a.tier = TierFactory(protection_days=days)
    partner_a.save()
    deal = approve(make_deal(user=partner_admin, submit=True), manager)
    assert deal.protection_days == days
    if expected is None:
        assert deal.protected_until is None
    else:
        assert deal.protected_until == deal.approved_at + dt.timedelta(days=expected)
    note = Notification.objects.get(user=partner_admin, kind="deal.approved")
    assert deal.reference in note.title


def test_deal_approve_without_tier_gives_default_90_days(partner_admin, manager):
    deal = approve(make_deal(user=partner_admin, submit=True), manager)
    assert deal.protected_until - deal.approved_at == dt.timedelta(days=90)


def test_deal_request_extension_approved_adds_30_days(partner_admin, manager):
    deal = approve(make_deal(user=partner_admin, submit=True), manager)
    with pytest.raises(ApplicationError):
        services.deal_request_extension(user=partner_admin, deal=deal, reason=" ")
    extension = services.deal_request_extension(user=partner_admin, deal=deal, reason="Tender moved to May")
    assert extension.status == ExtensionStatus.PENDING and extension.days == 30
    assert Notification.objects.filter(user=manager, kind="extension.requested").exists()
    with pytest.raises(StateError):  # one pending at a time
        services.deal_request_extension(user=partner_admin, deal=deal, reason="again")
    old_until = deal.protected_until
    services.deal_approve_extension(user=manager, extension=extension)
    deal.refresh_from_db()
    extension.refresh_from_db()
    assert deal.protected_until == old_until + dt.timedelta(days=30)
    assert extension.status == ExtensionStatus.APPROVED and extension.new_protected_until == deal.protected_until
    with pytest.raises(StateError):  # default tier allowance: one extension
        services.deal_request_extension(user=partner_admin, deal=deal, reason="once more")
    with pytest.raises(StateError):
        services.deal_approve_extension(user=manager, extension=extension)


def test_deal_request_extension_honours_tier_max_and_rejection(partner_a, partner_admin, manager):
    partner_a.tier = TierFactory(max_extensions=2)
    partner_a.save()
    deal = approve(make_deal(user=partner_admin, submit=True), manager)
    first = services.deal_request_extension(user=partner_admin, deal=deal, reason="r1")
    with pytest.raises(ApplicationError):
        services.deal_reject_extension(user=manager, extension=first, reason="")
    services.deal_reject_extension(user=manager, extension=first, reason="Not convincing")
    second = services.deal_request_extension(user=partner_admin, deal=deal, reason="r2")
    services.deal_approve_extension(user=manager, extension=second)
    third = services.deal_request_extension(user=partner_admin, deal=deal, reason="r3")
    assert third.status == ExtensionStatus.PENDING  # rejected one does not count
    with pytest.raises(StateError):
        services.deal_request_extension(user=partner_admin, deal=deal, reason="r4")


def test_deal_request_extension_refused_without_protection(partner_a, partner_admin, manager):
    partner_a.tier = TierFactory(protection_days=0)
    partner_a.save()
    deal = approve(make_deal(user=partner_admin, submit=True), manager)
    with pytest.raises(StateError):
        services.deal_request_extension(user=partner_admin, deal=deal, reason="please")


# --- conflict detection -------------------------------------------------------------------


def _submit(user, **customer):
    return make_deal(user=user, customer=customer_data(**customer), submit=True)


def test_conflict_detected_on_same_tax_id(partner_admin, other_partner_user, manager):
    first = _submit(partner_admin, name="ООО «Ромашка»", website="romashka.ru", tax_id="7707083893")
    second = _submit(other_partner_user, name="Romashka Trading", website="", tax_id="7707 083 893")
    conflict = Conflict.objects.get()
    assert (conflict.registration_low_id, conflict.registration_high_id) == (first.pk, second.pk)
    assert "tax_id" in conflict.matched_fields
    assert conflict.status == ConflictStatus.OPEN and conflict.evidence["detected_on"] == second.reference
    assert AuditLog.objects.filter(action="conflict.detect", object_id=str(conflict.pk)).exists()


def test_conflict_detected_on_registrable_domain(partner_admin, other_partner_user):
    _submit(partner_admin, name="Acme", website="https://www.acme.co.uk", tax_id="111")
    _submit(other_partner_user, name="Totally Different", website="http://shop.acme.co.uk/x", tax_id="222")
    conflict = Conflict.objects.get()
    assert conflict.matched_fields == ["domain"]


def test_conflict_detected_on_similar_name(partner_admin, other_partner_user):
    _submit(partner_admin, name="ООО «Ромашка»", website="", tax_id="111")
    _submit(other_partner_user, name="Ромашка Плюс", website="", tax_id="222")  # similarity 0.615
    conflict = Conflict.objects.get()
    assert conflict.matched_fields == ["name"]
    assert Decimal("0.6") <= conflict.similarity < Decimal("0.7")


def test_conflict_not_detected_for_dissimilar_name(partner_admin, other_partner_user):
    _submit(partner_admin, name="ООО «Ромашка»", website="", tax_id="111")
    _submit(other_partner_user, name="Василёк", website="", tax_id="222")
    assert not Conflict.objects.exists()


def test_conflict_name_threshold_comes_from_settings(settings, partner_admin, other_partner_user):
    settings.PRM = {**settings.PRM, "DEAL_NAME_SIMILARITY": 0.7}
    _submit(partner_admin, name="ООО «Ромашка»", website="", tax_id="111")
    _submit(other_partner_user, name="Ромашка Плюс", website="", tax_id="222")
    assert not Conflict.objects.exists()


def test_conflict_requires_product_overlap(partner_admin, other_partner_user, partner_c, gamma_user, products):
    make_deal(user=partner_admin, products=[products[0]], submit=True)
    make_deal(user=other_partner_user, products=[products[1]], submit=True)
    assert not Conflict.objects.exists()
    third = make_deal(user=gamma_user, products=[products[1], products[2]], submit=True)
    conflict = Conflict.objects.get()
    assert conflict.registration_high_id == third.pk
    assert conflict.evidence["common_products"] == [products[1].pk] and conflict.evidence["no_products"] is False


def test_conflict_no_products_on_one_side_counts_as_overlap(partner_admin, other_partner_user, products):
    make_deal(user=partner_admin, products=[products[0]], submit=True)
    make_deal(user=other_partner_user, products=[], submit=True)
    assert Conflict.objects.get().evidence["no_products"] is True


def test_conflict_ignores_inactive_registrations(partner_admin, other_partner_user, manager, partner_c, gamma_user):
    make_deal(user=partner_admin)  # draft
    rejected = make_deal(user=partner_admin, customer=customer_data(name="Ромашка-2"), submit=True)
    services.deal_reject(user=manager, deal=rejected, reason="dup")
    expired = approve(_submit(other_partner_user, name="Ромашка"), manager)
    DealRegistration.objects.filter(pk=expired.pk).update(
        approved_at=timezone.now() - dt.timedelta(days=100), protected_until=timezone.now() - dt.timedelta(days=1)
    )
    make_deal(user=gamma_user, submit=True)
    assert not Conflict.objects.exists()


def test_conflict_same_partner_is_flagged_not_conflicted(partner_admin, partner_rep):
    first = make_deal(user=partner_admin, submit=True)
    second = make_deal(user=partner_rep, submit=True)
    assert not Conflict.objects.exists()
    assert second.flags == [DealFlag.OWN_DUPLICATE]
    assert second.flag_evidence["own_duplicate"]["references"] == [first.reference]


def test_conflict_recorded_once_per_pair_across_resubmission(partner_admin, other_partner_user, manager):
    _submit(partner_admin)
    second = _submit(other_partner_user)
    services.deal_return(user=manager, deal=second, reason="More detail")
    services.deal_submit(user=other_partner_user, deal=second)
    assert Conflict.objects.count() == 1


def test_conflict_blocks_approval_until_resolved(partner_admin, other_partner_user, manager):
    first = _submit(partner_admin)
    second = _submit(other_partner_user)
    with pytest.raises(StateError):
        approve(second, manager)
    conflict = Conflict.objects.get()
    services.conflict_resolve(
        user=manager, conflict=conflict, outcome=ConflictOutcome.AWARD, winner=first, reason="First"
    )
    assert approve(first, manager).status == DealStatus.APPROVED


def test_conflict_with_three_partners_records_every_pair(partner_admin, other_partner_user, gamma_user):
    a, b, c = _submit(partner_admin), _submit(other_partner_user), _submit(gamma_user)
    pairs = set(Conflict.objects.values_list("registration_low_id", "registration_high_id"))
    assert pairs == {(a.pk, b.pk), (a.pk, c.pk), (b.pk, c.pk)}


# --- flags --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "account",
    [
        {"name": "Unrelated", "tax_id": "7707083893"},
        {"name": "Unrelated", "website": "https://romashka.ru"},
        {"name": "Ромашка АО"},
    ],
)
def test_deal_submit_flags_direct_account(account, partner_admin):
    DirectAccountFactory(**account)
    deal = make_deal(user=partner_admin, submit=True)
    assert DealFlag.DIRECT_ACCOUNT in deal.flags
    assert deal.flag_evidence["direct_account"]["accounts"][0]["matched"]


def test_deal_submit_ignores_inactive_direct_account(partner_admin):
    DirectAccountFactory(name="Ромашка", is_active=False)
    assert make_deal(user=partner_admin, submit=True).flags == []


@pytest.mark.parametrize(
    ("partner_fields", "customer", "matched"),
    [
        ({"tax_id": "7707-083-893"}, {}, "tax_id"),
        ({"website_domain": "www.romashka.ru"}, {"tax_id": "1"}, "domain"),
        ({}, {"name": "Alpha Systems LLC", "website": "", "tax_id": "1"}, "name"),
    ],
)
def test_deal_submit_flags_self_dealing(partner_fields, customer, matched, partner_a, partner_admin):
    for key, value in partner_fields.items():
        setattr(partner_a, key, value)
    partner_a.save()
    deal = make_deal(user=partner_admin, customer=customer_data(**customer), submit=True)
    assert DealFlag.SELF_DEALING in deal.flags
    assert matched in deal.flag_evidence["self_dealing"]["matched"]


def test_deal_create_and_direct_account_services_normalise(manager):
    account = services.direct_account_create(user=manager, name="ПАО «Газпром»", website="https://www.gazprom.ru/")
    assert (account.normalized_name, account.domain) == ("газпром", "gazprom.ru")
    services.direct_account_update(user=manager, account=account, is_active=False)
    account.refresh_from_db()
    assert account.is_active is False


# --- pre-submit check ---------------------------------------------------------------------


def test_deal_precheck_clear_when_nothing_matches(partner_a, partner_b, other_partner_user):
    _submit(other_partner_user, name="Василёк", website="", tax_id="9")
    result = services.deal_precheck(partner=partner_a, name="ООО Ромашка", tax_id="1")
    assert result.verdict == "clear"


def test_deal_precheck_held_when_another_partner_is_protected(partner_a, other_partner_user, manager):
    approve(_submit(other_partner_user), manager)
    for kwargs in ({"name": "x", "tax_id": "7707083893"}, {"name": "x", "website": "romashka.ru"}, {"name": "Ромашка"}):
        result = services.deal_precheck(partner=partner_a, **kwargs)
        assert result.verdict == "held", kwargs
        assert "Beta" not in result.message


def test_deal_precheck_possible_overlap_for_submitted_or_weaker_name(partner_a, other_partner_user, manager):
    _submit(other_partner_user, name="Ромашка", website="", tax_id="1")
    assert services.deal_precheck(partner=partner_a, name="ромашка").verdict == "possible_overlap"
    approve(_submit(other_partner_user, name="Северный Ветер", website="", tax_id="2"), manager)
    # similarity("северный ветер плюс", "северный ветер") = 0.75: a conflict, but not "very similar"
    assert services.deal_precheck(partner=partner_a, name="Северный ветер плюс").verdict == "possible_overlap"
    assert services.deal_precheck(partner=partner_a, name="ЗАО «Северный ветер»").verdict == "held"


def test_deal_precheck_held_threshold_from_settings(settings, partner_a, other_partner_user, manager):
    approve(_submit(other_partner_user, name="Северный Ветер", website="", tax_id="2"), manager)
    settings.PRM = {**settings.PRM, "DEAL_NAME_HELD_SIMILARITY": 0.6}
    assert services.deal_precheck(partner=partner_a, name="Северный ветер плюс").verdict == "held"


def test_deal_precheck_ignores_own_partner_and_other_products(partner_a, partner_admin, other_partner_user, products):
    make_deal(user=partner_admin, submit=True)
    assert services.deal_precheck(partner=partner_a, name="Ромашка").verdict == "clear"
    make_deal(user=other_partner_user, products=[products[0]], submit=True)
    assert services.deal_precheck(partner=partner_a, name="Ромашка", products=[products[1]]).verdict == "clear"
    assert (
        services.deal_precheck(partner=partner_a, name="Ромашка", products=[products[0]]).verdict == "possible_overlap"
    )


# --- resolution ---------------------------------------------------------------------------


@pytest.fixture
def conflict_pair(partner_admin, other_partner_user):
    first = _submit(partner_admin)
    second = _submit(other_partner_user)
    return first, second, Conflict.objects.get()


def test_conflict_resolve_award_rejects_the_other(conflict_pair, manager, partner_admin, other_partner_user):
    first, second, conflict = conflict_pair
    services.conflict_resolve(
        user=manager, conflict=conflict, outcome=ConflictOutcome.AWARD, winner=first, reason="Registered first"
    )
    conflict.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (conflict.status, conflict.outcome, conflict.winner_id) == ("resolved", "award", first.pk)
    assert conflict.resolved_by == manager and conflict.reason == "Registered first"
    assert first.status == DealStatus.SUBMITTED and second.status == DealStatus.REJECTED
    assert "Registered first" not in second.decision_reason  # the staff reason stays internal
    assert AuditLog.objects.filter(action="conflict.resolve").count() == 1
    assert AuditLog.objects.filter(action="deal.reject_by_conflict", object_id=str(second.pk)).exists()
    assert "favour" in Notification.objects.get(user=partner_admin, kind="deal.conflict_resolved").title
    assert selectors.conflict_summary_for_partner(first).outcome == "won"
    assert selectors.conflict_summary_for_partner(second).outcome == "lost"


def test_conflict_resolve_co_sell_keeps_both(conflict_pair, manager):
    first, second, conflict = conflict_pair
    services.conflict_resolve(user=manager, conflict=conflict, outcome=ConflictOutcome.CO_SELL, reason="Split")
    assert set(DealRegistration.objects.values_list("status", flat=True)) == {DealStatus.SUBMITTED}
    assert selectors.conflict_summary_for_partner(second).outcome == "co_sell"
    approve(first, manager)
    approve(second, manager)


def test_conflict_resolve_reject_both(conflict_pair, manager):
    first, second, conflict = conflict_pair
    approve_ok = services.conflict_resolve(
        user=manager, conflict=conflict, outcome=ConflictOutcome.REJECT_BOTH, reason="Direct account"
    )
    assert approve_ok.winner is None
    assert set(DealRegistration.objects.values_list("status", flat=True)) == {DealStatus.REJECTED}
    assert selectors.conflict_summary_for_partner(first).outcome == "rejected"


def test_conflict_resolve_validates_input_and_state(conflict_pair, manager, partner_admin):
    first, second, conflict = conflict_pair
    with pytest.raises(ApplicationError):
        services.conflict_resolve(
            user=manager, conflict=conflict, outcome=ConflictOutcome.AWARD, winner=first, reason=""
        )
    with pytest.raises(ApplicationError):
        services.conflict_resolve(user=manager, conflict=conflict, outcome=ConflictOutcome.AWARD, reason="no winner")
    with pytest.raises(ApplicationError):
        services.conflict_resolve(user=manager, conflict=conflict, outcome=ConflictOutcome.LAPSED, reason="x")
    with pytest.raises(PermissionDenied):
        services.conflict_resolve(user=partner_admin, conflict=conflict, outcome=ConflictOutcome.CO_SELL, reason="x")
    services.conflict_resolve(user=manager, conflict=conflict, outcome=ConflictOutcome.CO_SELL, reason="x")
    audits = AuditLog.objects.count()
    with pytest.raises(StateError):
        services.conflict_resolve(user=manager, conflict=conflict, outcome=ConflictOutcome.REJECT_BOTH, reason="x")
    assert AuditLog.objects.count() == audits


def test_conflict_lapses_when_one_side_is_rejected(conflict_pair, manager, partner_admin):
    first, second, conflict = conflict_pair
    services.deal_reject(user=manager, deal=second, reason="Not qualified")
    conflict.refresh_from_db()
    assert (conflict.status, conflict.outcome) == ("resolved", "lapsed")
    note = Notification.objects.get(user=partner_admin, kind="deal.conflict_closed")
    assert first.reference in note.title
    assert selectors.conflict_summary_for_partner(first).outcome == "closed"


def test_conflict_award_lapses_the_losers_other_conflicts(partner_admin, other_partner_user, gamma_user, manager):
    a, b, c = _submit(partner_admin), _submit(other_partner_user), _submit(gamma_user)
    ab = Conflict.objects.get(registration_low=a, registration_high=b)
    services.conflict_resolve(user=manager, conflict=ab, outcome=ConflictOutcome.AWARD, winner=a, reason="first")
    assert Conflict.objects.get(registration_low=b, registration_high=c).outcome == ConflictOutcome.LAPSED
    assert Conflict.objects.get(registration_low=a, registration_high=c).status == ConflictStatus.OPEN


def test_conflict_proposed_resolution_prefers_earliest_approved(partner_admin, other_partner_user, manager):
    with clock(at(2026, 3, 2, 10)):
        first = _submit(partner_admin, name="Ромашка", tax_id="1", website="")
    with clock(at(2026, 3, 2, 11)):
        approve(first, manager)
    with clock(at(2026, 3, 3, 10)):
        _submit(other_partner_user, name="Ромашка", tax_id="1", website="")
    conflict = Conflict.objects.get()
    proposal = selectors.conflict_proposed_resolution(conflict)
    assert (proposal.winner, proposal.rule) == (first, "earliest_approved")


def test_conflict_proposed_resolution_falls_back_to_earliest_submitted(conflict_pair):
    first, second, conflict = conflict_pair
    proposal = selectors.conflict_proposed_resolution(conflict)
    assert (proposal.outcome, proposal.winner, proposal.rule) == ("award", first, "earliest_submitted")
    assert second.submitted_at > first.submitted_at


# --- confidentiality ----------------------------------------------------------------------


def test_partner_notifications_and_emails_never_reveal_the_other_partner(
    partner_admin, partner_rep, other_partner_user, manager, send_emails
):
    first = make_deal(user=partner_rep, value="1234567.00", title="Alpha firewall project", submit=True)
    second = make_deal(user=other_partner_user, value="7654321.00", title="Beta rollout", submit=True)
    conflict = Conflict.objects.get()
    services.conflict_resolve(user=manager, conflict=conflict, outcome=ConflictOutcome.AWARD, winner=first, reason="x")
    outbox = send_emails()
    secrets = {
        partner_rep.partner.pk: ["Beta", "Boris", "7654321", "7 654 321", "7,654,321", second.reference, "rollout"],
        other_partner_user.partner.pk: ["Alpha", "Anna", "Roman", "1234567", "1 234 567", "1,234,567", first.reference],
    }
    partner_users = [partner_admin, partner_rep, other_partner_user]
    checked = 0
    for user in partner_users:
        texts = [f"{n.title}\n{n.body}" for n in Notification.objects.filter(user=user)]
        texts += [m.subject + m.body + "".join(a[0] for a in m.alternatives) for m in outbox if m.to == [user.email]]
        assert texts, user.email
        for text in texts:
            for secret in secrets[user.partner_id]:
                assert secret not in text, (user.email, secret, text)
            checked += 1
    assert checked >= 12
    # Staff, on the other hand, get the full picture.
    staff_text = " ".join(Notification.objects.filter(user=manager).values_list("title", flat=True))
    assert "Alpha Systems" in staff_text and "Beta Trade" in staff_text


def test_partner_conflict_summary_exposes_only_existence_and_outcome(conflict_pair):
    first, second, conflict = conflict_pair
    summary = selectors.conflict_summary_for_partner(first)
    assert summary == selectors.PartnerConflictSummary(exists=True, open=True, outcome=None)
    assert set(vars(summary)) == {"exists", "open", "outcome"}


# --- SLA business time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(2026, 3, 2, 10, 0), 18, at(2026, 3, 4, 10, 0)),  # Monday → Wednesday
        (at(2026, 3, 6, 17, 0), 18, at(2026, 3, 10, 17, 0)),  # Friday 17:00 → Tuesday 17:00
        (at(2026, 3, 7, 12, 0), 18, at(2026, 3, 10, 18, 0)),  # Saturday → Tuesday close
        (at(2026, 3, 2, 7, 0), 9, at(2026, 3, 2, 18, 0)),  # before opening
        (at(2026, 3, 2, 20, 0), 1, at(2026, 3, 3, 10, 0)),  # after closing
    ],
)
def test_sla_add_business_time_skips_nights_and_weekends(start, hours, expected):
    assert sla.add_business_time(start, dt.timedelta(hours=hours)) == expected


def test_sla_add_business_time_skips_holidays_from_table_and_settings(settings):
    HolidayFactory(date=dt.date(2026, 3, 9))  # Monday
    assert sla.add_business_time(at(2026, 3, 6, 17), dt.timedelta(hours=18)) == at(2026, 3, 11, 17)
    settings.PRM = {**settings.PRM, "HOLIDAYS": ["2026-03-10"]}
    assert sla.add_business_time(at(2026, 3, 6, 17), dt.timedelta(hours=18)) == at(2026, 3, 12, 17)


def test_sla_business_time_zone_and_hours_from_settings(settings):
    settings.PRM = {**settings.PRM, "BUSINESS_TIME_ZONE": "Europe/Moscow", "BUSINESS_DAY_START_HOUR": 10}
    # 09:00 Moscow = 06:00 UTC on a Monday; the day opens at 10:00 Moscow (07:00 UTC), 8 h long.
    assert sla.add_business_time(at(2026, 3, 2, 6), dt.timedelta(hours=16)) == at(2026, 3, 3, 15)


def test_sla_business_time_between_counts_only_working_hours():
    assert sla.business_time_between(at(2026, 3, 6, 17), at(2026, 3, 9, 10)) == dt.timedelta(hours=2)
    assert sla.business_time_between(at(2026, 3, 9, 10), at(2026, 3, 6, 17)) == -dt.timedelta(hours=2)


def test_review_time_left_counts_business_hours(partner_admin):
    with clock(at(2026, 3, 6, 17)):
        deal = make_deal(user=partner_admin, submit=True, expected_close_date=dt.date(2026, 6, 1))
    assert selectors.review_time_left(deal, now=at(2026, 3, 9, 9)) == dt.timedelta(hours=17)
    assert selectors.review_time_left(deal, now=at(2026, 3, 11, 9)) < dt.timedelta(0)


# --- selectors ----------------------------------------------------------------------------


def test_deal_list_for_user_scopes_by_role(partner_admin, partner_rep, other_partner_user, manager):
    own = make_deal(user=partner_rep)
    colleague = make_deal(user=partner_admin, customer=customer_data(tax_id="2", name="Two"))
    theirs = make_deal(user=other_partner_user, customer=customer_data(tax_id="3", name="Three"))
    assert list(selectors.deal_list_for_user(partner_rep)) == [own]
    assert set(selectors.deal_list_for_user(partner_admin)) == {own, colleague}
    assert list(selectors.deal_list_for_user(other_partner_user)) == [theirs]
    assert set(selectors.deal_list_for_user(manager)) == {own, colleague, theirs}
    assert set(selectors.deal_list_for_user(manager, {"partner": theirs.partner})) == {theirs}
    assert list(selectors.deal_list_for_user(partner_admin, {"q": own.reference})) == [own]
    assert list(selectors.deal_list_for_user(partner_admin, {"status": ["submitted"]})) == []


def test_deal_list_for_user_partner_cannot_filter_other_partner(partner_admin, other_partner_user):
    theirs = make_deal(user=other_partner_user)
    assert list(selectors.deal_list_for_user(partner_admin, {"partner": theirs.partner_id})) == []


def test_deal_get_for_user_404_for_other_partner(partner_admin, partner_rep, other_partner_user, manager):
    deal = make_deal(user=partner_admin)
    assert selectors.deal_get_for_user(partner_admin, deal.public_id) == deal
    assert selectors.deal_get_for_user(manager, deal.public_id) == deal
    for user in (other_partner_user, partner_rep):
        with pytest.raises(Http404):
            selectors.deal_get_for_user(user, deal.public_id)
    with pytest.raises(Http404):
        selectors.deal_get_for_user(partner_admin, "not-a-uuid")


def test_review_queue_orders_by_sla_urgency(partner_admin, other_partner_user):
    with clock(at(2026, 3, 3, 10)):
        later = _submit(partner_admin, name="Later", tax_id="1", website="")
    with clock(at(2026, 3, 2, 10)):
        sooner = _submit(other_partner_user, name="Sooner", tax_id="2", website="")
    assert list(selectors.review_queue()) == [sooner, later]


def test_protection_expiring_lists_soonest_first(partner_admin, manager):
    deal = approve(make_deal(user=partner_admin, submit=True), manager)
    assert list(selectors.protection_expiring(14)) == []
    assert list(selectors.protection_expiring(91)) == [deal]
    assert list(selectors.protection_expiring(91, user=partner_admin)) == [deal]


def _many_deals(partner_admin, n, products):
    for i in range(n):
        make_deal(user=partner_admin, customer=customer_data(tax_id=str(1000 + i), name=f"C{i}"), products=products)


def test_deal_list_for_user_query_count_does_not_grow(partner_admin, products, django_assert_max_num_queries):
    _many_deals(partner_admin, 3, products)
    with django_assert_max_num_queries(2):
        rows = list(selectors.deal_list_for_user(partner_admin))
        _ = [
            (r.partner.name, r.end_customer.name, r.submitted_by.email, [p.line.name for p in r.products.all()])
            for r in rows
        ]
    _many_deals(partner_admin, 12, products)
    with django_assert_max_num_queries(2):
        rows = list(selectors.deal_list_for_user(partner_admin))
        _ = [
            (r.partner.name, r.end_customer.name, r.submitted_by.email, [p.line.name for p in r.products.all()])
            for r in rows
        ]
    assert len(rows) == 15


def test_review_queue_and_conflict_list_query_count_does_not_grow(
    partner_admin, other_partner_user, gamma_user, django_assert_max_num_queries
):
    for user in (partner_admin, other_partner_user, gamma_user):
        _submit(user)
        _submit(user, name="Second", tax_id="2", website="")
    with django_assert_max_num_queries(2):
        rows = list(selectors.review_queue())
        _ = [(r.partner.name, r.end_customer.name, list(r.products.all())) for r in rows]
    with django_assert_max_num_queries(1):
        conflicts = list(selectors.conflict_list())
        _ = [
            (
                c.registration_low.partner.name,
                c.registration_high.end_customer.name,
                c.registration_high.submitted_by.email,
            )
            for c in conflicts
        ]
    assert len(conflicts) == 6
    with django_assert_max_num_queries(1):
        assert len(list(selectors.extension_queue())) == 0


# --- admin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["productline", "product", "holiday", "endcustomer", "directaccount", "dealregistration", "conflict"]
)
def test_admin_changelists_render(model, admin_user, client_for, partner_admin, other_partner_user):
    _submit(partner_admin)
    _submit(other_partner_user)
    response = client_for(admin_user).get(f"/admin/deals/{model}/")
    assert response.status_code == 200


def test_admin_direct_account_add_goes_through_service(admin_user, client_for):
    response = client_for(admin_user).post(
        "/admin/deals/directaccount/add/",
        {
            "name": "ООО «Газпром»",
            "website": "https://www.gazprom.ru",
            "tax_id": "77-36",
            "country": "ru",
            "notes": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    account = DirectAccount.objects.get()
    assert (account.normalized_name, account.domain, account.tax_id, account.country) == (
        "газпром",
        "gazprom.ru",
        "7736",
        "RU",
    )
    assert AuditLog.objects.filter(action="direct_account.create").exists()
