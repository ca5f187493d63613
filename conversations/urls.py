from __future__ import annotations

from django.urls import path

import conversations.converters  # noqa: F401  (the "id" path converter)
from conversations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("c/new/", views.conversation_new, name="conversation_new"),
    path("c/list/", views.conversation_list, name="conversation_list"),
    path("c/<id:conversation_id>/", views.conversation_detail, name="conversation"),
    path("c/<id:conversation_id>/t/<id:turn_id>/", views.conversation_detail, name="conversation_turn"),
    path("c/<id:conversation_id>/t/<id:turn_id>/branch.json", views.branch_json, name="branch_json"),
    path("c/<id:conversation_id>/t/<id:turn_id>/earlier.json", views.earlier_json, name="earlier_json"),
    path("c/<id:conversation_id>/tree.json", views.tree_json, name="tree_json"),
    path("c/<id:conversation_id>/compare/", views.compare, name="compare"),
    path("c/<id:conversation_id>/t/<id:turn_id>/fork/", views.conversation_fork, name="conversation_fork"),
    path("c/<id:conversation_id>/rename/", views.conversation_rename, name="conversation_rename"),
    path("c/<id:conversation_id>/delete/", views.conversation_delete, name="conversation_delete"),
    path("c/<id:conversation_id>/pin/", views.conversation_pin, name="conversation_pin"),
    path("c/<id:conversation_id>/t/<id:turn_id>/request.json", views.reply_request, name="reply_request"),
    path("c/<id:conversation_id>/t/<id:turn_id>/code.py", views.reply_code, name="reply_code"),
    path("tokens/count/", views.tokens_count, name="tokens_count"),
]
