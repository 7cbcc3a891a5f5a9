"""The deals REST API, mounted under /api/v1/ by prm/urls.py (through deals/urls.py)."""

from rest_framework.routers import SimpleRouter

from deals.api import leads, sales, views

router = SimpleRouter()
router.register("deals", views.DealViewSet, basename="deal")
router.register("conflicts", views.ConflictViewSet, basename="conflict")
router.register("products", views.ProductViewSet, basename="product")
router.register("sales", sales.SalesViewSet, basename="sales")
router.register("leads", leads.LeadViewSet, basename="lead")

urlpatterns = router.urls
