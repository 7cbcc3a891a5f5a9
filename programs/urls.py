"""Programs routes, gathered by prm/urls.py into the staff:, cabinet: and api: namespaces."""

from programs.api import tiers as api_tiers
from programs.views import cabinet_tiers, staff_tiers

staff_patterns = [*staff_tiers.urlpatterns]
cabinet_patterns = [*cabinet_tiers.urlpatterns]
api_patterns = [*api_tiers.urlpatterns]

__all__ = ["api_patterns", "cabinet_patterns", "staff_patterns"]
