from django.urls import path

from editor import views

app_name = "editor"

urlpatterns = [
    path("", views.editor, name="editor"),
    path("editor/fields/", views.model_fields, name="model-fields"),
    path("editor/estimate/", views.editor_estimate, name="estimate"),
    path("editor/runs/<uuid:job_id>/", views.workspace_run, name="workspace-run"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="job-status"),
    path("jobs/<uuid:job_id>/events/", views.job_events, name="job-events"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<uuid:job_id>/delete/", views.job_delete, name="job-delete"),
    path("jobs/<uuid:job_id>/row/", views.job_row, name="job-row"),
    path("images/<uuid:image_id>/", views.image, name="image"),
    path("images/<uuid:image_id>/<str:variant>/", views.image, name="image-variant"),
    path("history/", views.history, name="history"),
    path("history/storage/", views.history_storage, name="history-storage"),
    path("history/delete/", views.history_delete, name="history-delete"),
    path("history/trash/", views.trash, name="trash"),
    path("history/trash/restore/", views.trash_restore, name="trash-restore"),
    path("history/trash/delete/", views.trash_delete, name="trash-delete"),
    path("history/download/", views.history_download, name="history-download"),
    path("jobs/<uuid:job_id>/download/", views.job_download, name="job-download"),
]
