"""The deals REST API, mounted under /api/v1/ by prm/urls.py (through deals/urls.py)."""

from rest_framework.routers import SimpleRouter

from deals.api import sales, views

router = SimpleRouter()
router.register("deals", views.DealViewSet, basename="deal")
router.register("conflicts", views.ConflictViewSet, basename="conflict")
router.register("products", views.ProductViewSet, basename="product")
router.register("sales", sales.SalesViewSet, basename="sales")

urlpatterns = router.urls
