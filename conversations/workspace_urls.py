"""Workspace and member pages. Included from the project urls after `conversations.urls`, whose
import registers the `id` converter used here (imported below too, so this module stands alone)."""
from django.urls import path

import conversations.urls  # noqa: F401  (registers the "id" path converter)
from conversations import workspace_views as views

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
