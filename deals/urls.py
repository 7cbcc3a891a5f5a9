"""Deal routes, gathered by prm/urls.py into the staff:, cabinet: and api: namespaces."""

from deals.api import urlpatterns as api_patterns
from deals.views import cabinet_home, sales, staff_dashboard
from deals.views.cabinet import urlpatterns as _cabinet_deal_patterns
from deals.views.cabinet_leads import urlpatterns as _cabinet_lead_patterns
from deals.views.staff import urlpatterns as _staff_deal_patterns
from deals.views.staff_leads import urlpatterns as _staff_lead_patterns

# The dashboards own `staff:home` and `cabinet:home` (issue 6).
staff_patterns = [
    *staff_dashboard.urlpatterns,
    *_staff_deal_patterns,
    *_staff_lead_patterns,
    *sales.staff_urlpatterns,
]
cabinet_patterns = [
    *cabinet_home.urlpatterns,
    *_cabinet_deal_patterns,
    *_cabinet_lead_patterns,
    *sales.cabinet_urlpatterns,
]

__all__ = ["api_patterns", "cabinet_patterns", "staff_patterns"]
