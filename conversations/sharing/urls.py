from __future__ import annotations

from django.urls import path

import conversations.converters  # noqa: F401  (the "id" path converter)
from conversations.sharing import views

urlpatterns = [
    path("c/<id:conversation_id>/share/", views.share_create, name="share_create"),
    path("c/<id:conversation_id>/shares.json", views.conversation_links, name="conversation_links"),
    path("shared/", views.share_links, name="share_links"),
    path("shared/<id:link_id>/revoke/", views.share_revoke, name="share_revoke"),
    path("s/<str:token>/", views.shared, name="shared"),
    path("s/<str:token>/t/<id:turn_id>/branch.json", views.shared_branch, name="shared_branch"),
    path("s/<str:token>/fork/", views.shared_fork, name="shared_fork"),
]
