from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import backend_views, environment_views, health, metrics, overview_views, views

urlpatterns = [
    path("", overview_views.overview_page, name="home"),
    path("", include("runs.urls")),
    path("api/", include("runs.api_urls")),
    path("schedules/", include("schedules.urls")),
    path("time-zone", views.set_time_zone, name="set_time_zone"),
    path("actions/", views.action_list, name="action_list"),
    path("actions/<id:pk>/", views.action_detail, name="action_detail"),
    path("backends/", backend_views.backend_list, name="backend_list"),
    path("backends/<str:name>/check", backend_views.backend_check, name="backend_check"),
    path("environments/", environment_views.environment_list, name="environment_list"),
    path("environments/<str:key>/log", environment_views.environment_log, name="environment_log"),
    path("environments/<str:key>/remove", environment_views.environment_remove, name="environment_remove"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]

handler400 = "dashboard.views.bad_request"
handler403 = "dashboard.views.forbidden"
handler404 = "dashboard.views.not_found"
