from django.core.management.base import BaseCommand

from conversations.services import replies_interrupt_orphans


class Command(BaseCommand):
    help = (
        "Mark replies left 'streaming' by a server that stopped as 'interrupted', keeping the text "
        "of their last checkpoint. Run it while no server process is running (make run does)."
    )

    def handle(self, *args, **options) -> None:
        count = replies_interrupt_orphans()
        self.stdout.write(f"{count} interrupted repl{'y' if count == 1 else 'ies'} recovered.")
