"""Workspace and member pages."""
from __future__ import annotations

from django.urls import path

import conversations.converters  # noqa: F401  (the "id" path converter)
from conversations.workspaces import views

urlpatterns = [
    path("workspaces/", views.workspaces, name="workspaces"),
    path("workspaces/new/", views.workspace_create, name="workspace_create"),
    path("w/<id:workspace_id>/", views.workspace_detail, name="workspace"),
    path("w/<id:workspace_id>/rename/", views.workspace_rename, name="workspace_rename"),
    path("w/<id:workspace_id>/members/invite/", views.workspace_invite, name="workspace_invite"),
    path(
        "w/<id:workspace_id>/members/<id:membership_id>/role/",
        views.workspace_member_role,
        name="workspace_member_role",
    ),
    path(
        "w/<id:workspace_id>/members/<id:membership_id>/remove/",
        views.workspace_member_remove,
        name="workspace_member_remove",
    ),
]
