"""What the workspaces feature tells the others, so they need not import it (nor it them)."""
from __future__ import annotations

from django.dispatch import Signal

# Sent with `user_id` when a person's role changes or they leave a workspace, inside the
# transaction that changes it. Sharing listens: a link works only while its maker may write.
access_changed = Signal()
