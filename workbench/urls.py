from __future__ import annotations

from django.urls import include, path

# One include per feature; each feature's urls.py lists its own pages.
urlpatterns = [
    path("", include("conversations.accounts.urls")),
    path("", include("conversations.urls")),
    path("", include("conversations.sharing.urls")),
    path("", include("conversations.exchange.urls")),
    path("", include("conversations.workspaces.urls")),
    path("", include("conversations.search.urls")),
    path("", include("conversations.review.urls")),
    path("", include("conversations.attachments.urls")),
]
