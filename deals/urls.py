"""Deal routes, gathered by prm/urls.py into the staff:, cabinet: and api: namespaces."""

from deals.api import urlpatterns as api_patterns
from deals.views.cabinet import urlpatterns as cabinet_patterns
from deals.views.staff import urlpatterns as staff_patterns

__all__ = ["api_patterns", "cabinet_patterns", "staff_patterns"]
