from django.contrib import admin
from django.urls import include, path

from editor import health, operator_views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("operator/usage/", operator_views.usage_dashboard, name="operator-usage"),
    path("operator/usage/export.csv", operator_views.usage_export, name="operator-usage-export"),
    path("admin/", admin.site.urls),
    path("accounts/", include("editor.account_urls")),
    path("v1/", include("editor.api.urls")),
    path("", include("editor.urls")),
]

handler400 = "webapp.errors.bad_request"
handler403 = "webapp.errors.permission_denied"
handler404 = "webapp.errors.page_not_found"
handler500 = "webapp.errors.server_error"
