"""Stored files (`Blob`, named by the SHA-256 of their bytes) and uploads not yet sent."""
from __future__ import annotations

import uuid

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q


class Blob(models.Model):
    """One stored file, whatever the number of prompts, branches and forks that carry it.

    Its bytes are in the attachments storage under `storage.blob_name(sha256)`; an image's are the
    re-encoded image (see files.py), so the hash is of what is stored and served."""

    class Kind(models.TextChoices):
        IMAGE = "image"
        TEXT = "text"  # plain text, Markdown, CSV, JSON, source code, and PDF (its text)

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    media_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # A text file's text (a PDF's, extracted): what a model is sent.
    text = models.TextField(blank=True)
    # Tokens of `text` in each offline encoding, as Turn.token_counts.
    token_counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["image", "text"]), name="blob_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sha256[:12]}"


class Upload(models.Model):
    """A file one person uploaded for a prompt they have not sent yet. Sending the prompt turns it
    into one of the prompt's attachments and deletes the upload; uploads never sent are removed by
    `manage.py clean_attachments`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="uploads")
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at"], name="upload_of_owner")]

    def __str__(self) -> str:
        return f"{self.name} uploaded by {self.owner}"
