from __future__ import annotations

from django.urls import path

from conversations.review.consumer import InboxConsumer
from conversations.sharing.consumer import ShareConsumer
from conversations.streaming.consumer import ConversationConsumer
from conversations.streaming.new_conversation import NewConversationConsumer

websocket_urlpatterns = [
    path("ws/conversations/<int:conversation_id>/", ConversationConsumer.as_asgi()),
    path("ws/workspaces/<int:workspace_id>/conversations/new/", NewConversationConsumer.as_asgi()),
    path("ws/share/<str:token>/", ShareConsumer.as_asgi()),
    path("ws/me/", InboxConsumer.as_asgi()),
]
