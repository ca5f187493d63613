from __future__ import annotations

from django.urls import path

import conversations.converters  # noqa: F401  (the "id" path converter)
from conversations.review import views

urlpatterns = [
    path("c/<id:conversation_id>/review.json", views.review_json, name="review_json"),
    path("c/<id:conversation_id>/t/<id:turn_id>/comments.json", views.turn_comments_json, name="turn_comments_json"),
    path("c/<id:conversation_id>/t/<id:turn_id>/comments/", views.comment_create, name="comment_create"),
    path("c/<id:conversation_id>/comments/<id:comment_id>/edit/", views.comment_edit, name="comment_edit"),
    path("c/<id:conversation_id>/comments/<id:comment_id>/delete/", views.comment_delete, name="comment_delete"),
    path("c/<id:conversation_id>/comments/<id:comment_id>/resolve/", views.thread_resolve, name="thread_resolve"),
    path("c/<id:conversation_id>/t/<id:turn_id>/verdict/", views.verdict_set, name="verdict_set"),
    path("c/<id:conversation_id>/preference/", views.preference_set, name="preference_set"),
    path("w/<id:workspace_id>/review/", views.workspace_review_setting, name="workspace_review_setting"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<id:notification_id>/", views.notification_open, name="notification_open"),
    path("inbox/read/", views.notifications_read_all, name="notifications_read_all"),
]
