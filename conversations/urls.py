from django.urls import path

from conversations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("c/new/", views.conversation_new, name="conversation_new"),
    path("c/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("c/<int:conversation_id>/t/<int:turn_id>/", views.conversation_detail, name="conversation_turn"),
    path("c/<int:conversation_id>/t/<int:turn_id>/branch.json", views.branch_json, name="branch_json"),
    path("c/<int:conversation_id>/tree.json", views.tree_json, name="tree_json"),
    path("c/<int:conversation_id>/compare/", views.compare, name="compare"),
    path("c/<int:conversation_id>/t/<int:turn_id>/fork/", views.conversation_fork, name="conversation_fork"),
    path("c/<int:conversation_id>/rename/", views.conversation_rename, name="conversation_rename"),
    path("c/<int:conversation_id>/delete/", views.conversation_delete, name="conversation_delete"),
]
