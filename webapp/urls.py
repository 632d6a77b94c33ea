from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("editor.account_urls")),
    path("", include("editor.urls")),
]
