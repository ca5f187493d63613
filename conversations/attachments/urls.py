from __future__ import annotations

from django.urls import path

import conversations.converters  # noqa: F401  (the "id" path converter)
from conversations.attachments import views

urlpatterns = [
    path("files/", views.upload_create, name="upload_create"),
    path("files/<uuid:upload_id>/", views.upload_file, name="upload_file"),
    path("c/<id:conversation_id>/t/<id:turn_id>/files/<int:index>/", views.turn_file, name="turn_file"),
    path("s/<str:token>/t/<id:turn_id>/files/<int:index>/", views.shared_file, name="shared_file"),
]
