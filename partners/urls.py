"""Partner routes, gathered by prm/urls.py into the staff:, cabinet: and api: namespaces."""

from partners.api import urlpatterns as api_patterns
from partners.views import certifications
from partners.views.cabinet import urlpatterns as cabinet_patterns
from partners.views.staff import urlpatterns as staff_patterns

staff_patterns = [*staff_patterns, *certifications.staff_urlpatterns]
cabinet_patterns = [*cabinet_patterns, *certifications.cabinet_urlpatterns]

__all__ = ["api_patterns", "cabinet_patterns", "staff_patterns"]
