"""The image API, mounted at /v1/ (webapp/urls.py)."""

from django.urls import path

from editor.api import views

app_name = "api"

urlpatterns = [
    path("images/edits", views.images_edit, name="edits"),
    path("images/generations", views.images_generate, name="generations"),
    path("images/jobs/<uuid:job_id>", views.job_detail, name="job"),
    path("images/results/<str:signed>", views.result_file, name="result"),
    path("models", views.models_list, name="models"),
    path("models/<path:model_id>", views.model_detail, name="model"),
]
