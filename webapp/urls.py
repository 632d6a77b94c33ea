from django.contrib import admin
from django.urls import include, path

from editor import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("editor.account_urls")),
    path("", include("editor.urls")),
]
