from django.urls import path

from . import views

app_name = "uploads"

urlpatterns = [
    path("documents/", views.document_list, name="list"),
    path("documents/upload/", views.document_upload, name="upload"),
    path("documents/states/", views.document_states, name="states"),
    path("documents/<uuid:document_id>/download/", views.document_download, name="download"),
    path("documents/<uuid:document_id>/rename/", views.document_rename, name="rename"),
    path("documents/<uuid:document_id>/delete/", views.document_delete, name="delete"),
    path("documents/<uuid:document_id>/restore/", views.document_restore, name="restore"),
]
