from __future__ import annotations

from django.urls import path

import conversations.converters  # noqa: F401  (the "id" path converter)
from conversations.exchange import views

urlpatterns = [
    path("c/<id:conversation_id>/export.json", views.conversation_export_json, name="conversation_export_json"),
    path(
        "c/<id:conversation_id>/t/<id:turn_id>/export.md", views.branch_export_markdown, name="branch_export_markdown"
    ),
    path("import/", views.conversations_import, name="conversations_import"),
]
