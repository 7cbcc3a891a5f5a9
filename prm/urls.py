"""The composition root: each app contributes its staff, cabinet and API routes."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from deals import urls as deals_urls
from partners import urls as partners_urls
from prm import health, views
from programs import urls as programs_urls

staff_patterns = [*partners_urls.staff_patterns, *deals_urls.staff_patterns, *programs_urls.staff_patterns]
cabinet_patterns = [*partners_urls.cabinet_patterns, *deals_urls.cabinet_patterns, *programs_urls.cabinet_patterns]
api_patterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token"),
    *partners_urls.api_patterns,
    *deals_urls.api_patterns,
    *programs_urls.api_patterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", health.health, name="health"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read-all/", views.notification_read_all, name="notifications_read_all"),
    path("staff/", include((staff_patterns, "staff"))),
    path("cabinet/", include((cabinet_patterns, "cabinet"))),
    path("api/v1/", include((api_patterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
