from django.urls import path, register_converter

from conversations import sharing_views, views
from conversations.exchange import views as exchange_views


class IdConverter:
    """A database id: 1 to 18 ASCII digits, so an absurd number is a 404, not a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("", views.home, name="home"),
    path("c/new/", views.conversation_new, name="conversation_new"),
    path("c/<id:conversation_id>/", views.conversation_detail, name="conversation"),
    path("c/<id:conversation_id>/t/<id:turn_id>/", views.conversation_detail, name="conversation_turn"),
    path("c/<id:conversation_id>/t/<id:turn_id>/branch.json", views.branch_json, name="branch_json"),
    path("c/<id:conversation_id>/t/<id:turn_id>/earlier.json", views.earlier_json, name="earlier_json"),
    path("c/<id:conversation_id>/tree.json", views.tree_json, name="tree_json"),
    path("c/<id:conversation_id>/compare/", views.compare, name="compare"),
    path("c/<id:conversation_id>/t/<id:turn_id>/fork/", views.conversation_fork, name="conversation_fork"),
    path("c/<id:conversation_id>/rename/", views.conversation_rename, name="conversation_rename"),
    path("c/<id:conversation_id>/delete/", views.conversation_delete, name="conversation_delete"),
    path("c/<id:conversation_id>/t/<id:turn_id>/request.json", views.reply_request, name="reply_request"),
    path("c/<id:conversation_id>/t/<id:turn_id>/code.py", views.reply_code, name="reply_code"),
    path("tokens/count/", views.tokens_count, name="tokens_count"),
    path("c/<id:conversation_id>/export.json", exchange_views.conversation_export_json, name="conversation_export_json"),
    path("c/<id:conversation_id>/t/<id:turn_id>/export.md", exchange_views.branch_export_markdown, name="branch_export_markdown"),
    path("import/", exchange_views.conversations_import, name="conversations_import"),
    path("c/<id:conversation_id>/share/", sharing_views.share_create, name="share_create"),
    path("c/<id:conversation_id>/shares.json", sharing_views.conversation_links, name="conversation_links"),
    path("shared/", sharing_views.share_links, name="share_links"),
    path("shared/<id:link_id>/revoke/", sharing_views.share_revoke, name="share_revoke"),
    path("s/<str:token>/", sharing_views.shared, name="shared"),
    path("s/<str:token>/t/<id:turn_id>/branch.json", sharing_views.shared_branch, name="shared_branch"),
    path("s/<str:token>/fork/", sharing_views.shared_fork, name="shared_fork"),
]
