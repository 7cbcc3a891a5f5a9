"""The deals REST API, mounted under /api/v1/ by prm/urls.py (through deals/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from deals.api import dashboard, leads, sales, views

router = SimpleRouter()
router.register("deals", views.DealViewSet, basename="deal")
router.register("conflicts", views.ConflictViewSet, basename="conflict")
router.register("products", views.ProductViewSet, basename="product")
router.register("sales", sales.SalesViewSet, basename="sales")
router.register("leads", leads.LeadViewSet, basename="lead")
router.register("forecasts", dashboard.ForecastViewSet, basename="forecast")
router.register("commits", dashboard.CommitViewSet, basename="commit")

urlpatterns = [
    *router.urls,
    path("dashboard/", dashboard.DashboardView.as_view(), name="dashboard"),
    path("kpis/", dashboard.KpiView.as_view(), name="kpis"),
    path("partners/<uuid:id>/health/", dashboard.PartnerHealthView.as_view(), name="partner-health"),
]
