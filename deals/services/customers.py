"""End customers and direct accounts: created and changed only here, so keys stay normalised."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from deals.models import DirectAccount, EndCustomer
from deals.normalize import customer_keys, normalize_name, normalize_tax_id, registrable_domain
from prm.audit import audit_record, diff, snapshot
from prm.exceptions import ApplicationError

from ._common import require_staff

_CUSTOMER_FIELDS = ["name", "normalized_name", "website", "domain", "tax_id", "country", "city"]


def _clean_country(country: str) -> str:
    country = (country or "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise ApplicationError(_("Use the two-letter country code."), fields={"country": [_("Invalid code.")]})
    return country


def _find_customer(*, keys, country: str) -> EndCustomer | None:
    if keys.tax_id:
        return EndCustomer.objects.filter(tax_id=keys.tax_id).first()
    if keys.domain:
        # Prefer a record without a tax id (the unique one); any record with the domain will do.
        return EndCustomer.objects.filter(domain=keys.domain).order_by("-tax_id", "pk").first()
    return EndCustomer.objects.filter(normalized_name=keys.name, country=country, tax_id="", domain="").first()


def end_customer_get_or_create(
    *, name: str, website: str = "", email: str = "", tax_id: str = "", country: str = "", city: str = ""
) -> tuple[EndCustomer, bool]:
    """The shared record for this company, created when new. Returns (customer, created).

    Matching: same tax id (digits only); else, without a tax id, the same registrable domain of
    the website (or of the contact e-mail, public mail ignored); else the same normalised name
    in the same country. An existing record is never changed by a partner's input. Safe under
    concurrency: the partial unique constraints make the loser of a race re-read the winner.
    """
    name = (name or "").strip()
    if not name:
        raise ApplicationError(_("Enter the customer's name."), fields={"name": [_("This field is required.")]})
    country = _clean_country(country)
    keys = customer_keys(name=name, website=website, email=email, tax_id=tax_id)
    if tax_id and not keys.tax_id:
        raise ApplicationError(_("A tax id must contain digits."), fields={"tax_id": [_("Invalid tax id.")]})
    found = _find_customer(keys=keys, country=country)
    if found is not None:
        return found, False
    customer = EndCustomer(
        name=name[:300],
        normalized_name=keys.name[:300],
        website=(website or "").strip()[:300],
        domain=keys.domain,
        tax_id=keys.tax_id,
        country=country,
        city=(city or "").strip()[:120],
    )
    customer.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # Someone created the same company a moment ago.
        found = _find_customer(keys=keys, country=country)
        if found is None:
            raise
        return found, False
    return customer, True


def end_customer_update(*, user, customer: EndCustomer, **data) -> EndCustomer:
    """Staff correction of a customer record (name, website, tax_id, country, city); keys recomputed."""
    require_staff(user)
    allowed = {"name", "website", "tax_id", "country", "city"}
    unknown = set(data) - allowed
    if unknown:
        raise ApplicationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    with transaction.atomic():
        customer = EndCustomer.objects.select_for_update().get(pk=customer.pk)
        before = snapshot(customer, _CUSTOMER_FIELDS)
        for field, value in data.items():
            setattr(customer, field, (value or "").strip())
        customer.country = _clean_country(customer.country)
        customer.normalized_name = normalize_name(customer.name)
        customer.domain = registrable_domain(customer.website)
        customer.tax_id = normalize_tax_id(customer.tax_id)
        customer.full_clean()
        customer.save(update_fields=[*_CUSTOMER_FIELDS, "updated_at"])
        b, a = diff(before, snapshot(customer, _CUSTOMER_FIELDS))
        if a:
            audit_record(actor=user, action="end_customer.update", instance=customer, before=b, after=a)
    return customer


_ACCOUNT_FIELDS = ["name", "normalized_name", "website", "domain", "tax_id", "country", "owner", "notes", "is_active"]


def _apply_account(account: DirectAccount, data: dict) -> None:
    for field, value in data.items():
        setattr(account, field, value.strip() if isinstance(value, str) else value)
    account.country = _clean_country(account.country)
    account.normalized_name = normalize_name(account.name)
    account.domain = registrable_domain(account.website)
    account.tax_id = normalize_tax_id(account.tax_id)
    if not (account.normalized_name or account.domain or account.tax_id):
        raise ApplicationError(_("A direct account needs a name, website or tax id."))


def direct_account_create(
    *, user, name: str, website: str = "", tax_id: str = "", country: str = "", owner=None, notes: str = ""
) -> DirectAccount:
    """Add a customer the vendor serves directly; registrations matching it get flagged."""
    require_staff(user)
    with transaction.atomic():
        account = DirectAccount()
        _apply_account(
            account,
            {"name": name, "website": website, "tax_id": tax_id, "country": country, "owner": owner, "notes": notes},
        )
        account.full_clean()
        account.save()
        audit_record(
            actor=user, action="direct_account.create", instance=account, after=snapshot(account, _ACCOUNT_FIELDS)
        )
    return account


def direct_account_update(*, user, account: DirectAccount, **data) -> DirectAccount:
    """Change a direct account (name, website, tax_id, country, owner, notes, is_active)."""
    require_staff(user)
    allowed = {"name", "website", "tax_id", "country", "owner", "notes", "is_active"}
    unknown = set(data) - allowed
    if unknown:
        raise ApplicationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    with transaction.atomic():
        account = DirectAccount.objects.select_for_update().get(pk=account.pk)
        before = snapshot(account, _ACCOUNT_FIELDS)
        _apply_account(account, data)
        account.full_clean()
        account.save(update_fields=[*_ACCOUNT_FIELDS, "updated_at"])
        b, a = diff(before, snapshot(account, _ACCOUNT_FIELDS))
        if a:
            audit_record(actor=user, action="direct_account.update", instance=account, before=b, after=a)
    return account
