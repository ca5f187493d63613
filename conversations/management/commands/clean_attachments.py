from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from conversations.attachments import cleanup
from conversations.attachments.files import human_size


class Command(BaseCommand):
    help = (
        "Remove uploads never sent with a prompt (after WORKBENCH_ATTACHMENT_UPLOAD_HOURS), then stored "
        "files that no upload, prompt or snapshot link uses, with their thumbnails; with --files, also "
        "files in the attachments storage that no row names. Safe to run while the server runs: run it "
        "daily (cron)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Say what would be removed; remove nothing.")
        parser.add_argument("--files", action="store_true",
                            help="Also walk the storage for files no stored-file row names (slower).")

    def handle(self, *args, dry_run: bool = False, files: bool = False, **options) -> None:
        now = timezone.now()
        verb = "Would remove" if dry_run else "Removed"
        steps = [
            (f"unsent upload(s) older than {settings.ATTACHMENT_UPLOAD_HOURS} hours",
             lambda: cleanup.uploads_expire(now=now, dry_run=dry_run)),
            ("stored file(s) nothing uses", lambda: cleanup.blobs_unused_delete(now=now, dry_run=dry_run)),
        ]
        if files:
            steps.append(("file(s) in storage no row names",
                          lambda: cleanup.files_unnamed_delete(now=now, dry_run=dry_run)))
        for label, step in steps:
            removed = step()
            for item in removed:
                self.stdout.write(f"  {item.what}")
            freed = sum(item.size for item in removed)
            self.stdout.write(f"{verb} {len(removed)} {label}" + (f" ({human_size(freed)})." if removed else "."))
