"""Programs routes, gathered by prm/urls.py into the staff:, cabinet: and api: namespaces.
Each part (tiers, ledger, rewards…) contributes its own module's `urlpatterns`."""

from programs.api import ledger as ledger_api
from programs.api import rewards as rewards_api
from programs.api import tiers as api_tiers
from programs.views import cabinet_ledger, cabinet_tiers, staff_ledger, staff_tiers

staff_patterns = [*staff_tiers.urlpatterns, *staff_ledger.urlpatterns]
cabinet_patterns = [*cabinet_tiers.urlpatterns, *cabinet_ledger.urlpatterns]
api_patterns = [*api_tiers.urlpatterns, *ledger_api.urlpatterns, *rewards_api.urlpatterns]

__all__ = ["api_patterns", "cabinet_patterns", "staff_patterns"]
