"""Deal routes, gathered by prm/urls.py into the staff:, cabinet: and api: namespaces."""

from deals.api import urlpatterns as api_patterns
from deals.views import sales
from deals.views.cabinet import urlpatterns as cabinet_patterns
from deals.views.staff import urlpatterns as staff_patterns

staff_patterns = [*staff_patterns, *sales.staff_urlpatterns]
cabinet_patterns = [*cabinet_patterns, *sales.cabinet_urlpatterns]

__all__ = ["api_patterns", "cabinet_patterns", "staff_patterns"]
