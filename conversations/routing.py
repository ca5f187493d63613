from django.urls import path

from conversations.consumers import ConversationConsumer
from conversations.share_consumer import ShareConsumer

websocket_urlpatterns = [
    path("ws/conversations/<int:conversation_id>/", ConversationConsumer.as_asgi()),
    path("ws/share/<str:token>/", ShareConsumer.as_asgi()),
]
