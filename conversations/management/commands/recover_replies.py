from __future__ import annotations

from django.core.management.base import BaseCommand

from conversations.streaming.liveness import orphans_interrupt


class Command(BaseCommand):
    help = (
        "Mark replies left 'streaming' by a server process that is gone as 'interrupted', keeping "
        "the text of their last checkpoint. Replies of processes still alive (others behind the "
        "same load balancer) are left alone. make run runs it before starting the server."
    )

    def handle(self, *args, **options) -> None:
        count = len(orphans_interrupt())
        self.stdout.write(f"{count} interrupted repl{'y' if count == 1 else 'ies'} recovered.")
