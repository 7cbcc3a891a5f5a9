"""Deal routes, gathered by prm/urls.py into the staff:, cabinet: and api: namespaces."""

from deals.api import urlpatterns as api_patterns
from deals.views import cabinet_home, staff_dashboard
from deals.views.cabinet import urlpatterns as _cabinet_deal_patterns
from deals.views.staff import urlpatterns as _staff_deal_patterns

# The dashboards own `staff:home` and `cabinet:home` (issue 6).
staff_patterns = [*staff_dashboard.urlpatterns, *_staff_deal_patterns]
cabinet_patterns = [*cabinet_home.urlpatterns, *_cabinet_deal_patterns]

__all__ = ["api_patterns", "cabinet_patterns", "staff_patterns"]
