"""Who may act on a partner's points, redemptions and tier: one rule for every programs service.

Vendor staff act on the partners in their portfolio, `partners.selectors.partners_in_scope`: a
channel manager on their own partners, a channel lead on their team's, an administrator on all.
An inactive user is refused first (deals.services._common.require_staff). Reading is wider: any
staff user may look at any partner's ledger, queue or tier page.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from deals.services._common import require_staff
from partners.selectors import partner_in_scope
from prm.exceptions import PermissionDenied

__all__ = ["require_staff_for_partner"]


def require_staff_for_partner(actor, partner_id: int) -> None:
    require_staff(actor)
    if not partner_in_scope(user=actor, partner=partner_id):
        raise PermissionDenied(
            _(
                "This partner is not in your portfolio: only its channel manager, their channel lead "
                "or an administrator can do this."
            )
        )
