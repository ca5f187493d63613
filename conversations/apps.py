from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate


class ConversationsConfig(AppConfig):
    name = "conversations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from conversations.models import ShareLink
        from conversations.search import index as search_index
        from conversations.sharing import services as sharing
        from conversations.streaming.protocol import check_frames_fit
        from conversations.workspaces import signals as workspace_signals

        checks.register(check_frames_fit)

        # A link is deleted mostly by cascade (its conversation, turn or maker): a receiver sees
        # every way, where a call in each service would miss some.
        post_delete.connect(sharing.share_deleted, sender=ShareLink, dispatch_uid="share-deleted")
        # A migration that rebuilds a table on SQLite drops its triggers: the search index's come back.
        post_migrate.connect(search_index.after_migrate, sender=self, dispatch_uid="search-index-ensure")
        workspace_signals.access_changed.connect(
            sharing.maker_access_changed, dispatch_uid="share-maker-access"
        )
