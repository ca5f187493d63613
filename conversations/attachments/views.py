"""Attachments over HTTP: upload a file for the next prompt, discard it, and serve stored files.

Every file is served as a download would be read by no one: its exact type, never sniffed
(`nosniff`), in a sandbox with no sources (`Content-Security-Policy`), so even a text file full
of HTML is shown as text and runs nothing. What is served never changes under its URL (a file is
named by its hash), so browsers keep it.

Who may read what is the one permission check's (permissions.py): an upload is its owner's alone,
a turn's attachment is for whoever may read the conversation, and a share link serves only the
turns it shows, after the checks its page makes.
"""
from __future__ import annotations

import io
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified, JsonResponse, QueryDict
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from conversations.attachments import selectors, uploads
from conversations.attachments.files import PDF_TYPE, clean_name
from conversations.attachments.models import Blob, Upload
from conversations.attachments.storage import attachment_storage, blob_name, thumbnail_name
from conversations.errors import ServiceError
from conversations.permissions import Need, conversation_for, share_for
from conversations.sharing.services import shown_attachments

# Room for the multipart envelope around the one file (boundaries, headers, the file's name).
ENVELOPE_BYTES = 64 * 1024
STATUS = {"too_large": 413, "not_found": 404}


class OneFileUpload(FileUploadHandler):
    """Reads an upload's file into memory, no more than the limit: a request larger than the
    limit is not read at all, and a file that grows past it stops being read (`too_large`).

    Django's own handlers would spool any size to a temporary file before the view could say no."""

    def __init__(self, request, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.too_large = 0  # the size seen when over the limit
        self.buffer = io.BytesIO()

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.limit + ENVELOPE_BYTES:
            self.too_large = content_length
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) > self.limit:
            self.too_large = start + len(raw_data)
            raise StopUpload(connection_reset=False)
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int):
        self.buffer.seek(0)
        return InMemoryUploadedFile(self.buffer, self.field_name, self.file_name, self.content_type,
                                    file_size, self.charset, self.content_type_extra)


def _refused(message: str, code: str) -> JsonResponse:
    return JsonResponse({"error": message, "code": code}, status=STATUS.get(code, 400))


def upload_payload(upload: Upload) -> dict:
    """An upload as the page knows it (what POST /files/ answers)."""
    blob = upload.blob
    url = reverse("upload_file", args=[upload.id])
    return {
        "id": str(upload.id),
        "name": upload.name,
        "kind": blob.kind,
        "media_type": blob.media_type,
        "size": blob.size,
        "width": blob.width,
        "height": blob.height,
        "token_counts": blob.token_counts if blob.kind == Blob.Kind.TEXT else {},
        "url": url,
        "thumbnail_url": f"{url}?thumb=1" if blob.kind == Blob.Kind.IMAGE else None,
    }


@csrf_exempt  # checked below, once the upload handler is in place (the CSRF check reads the body)
@require_http_methods(["POST"])
def upload_create(request):
    limit = settings.ATTACHMENT_MAX_FILE_BYTES
    handler = OneFileUpload(request, limit)
    request.upload_handlers = [handler]
    return _upload_create(request, handler)


@csrf_protect
@login_required
def _upload_create(request, handler: OneFileUpload):
    upload = request.FILES.get("file")  # reads the body through `handler`
    if handler.too_large:
        # The file's name when its part was reached; the request's size when it was not read at all.
        name = clean_name(handler.file_name) if handler.file_name else "The upload"
        return _refused(uploads.too_large(name, handler.too_large).message, "too_large")
    if upload is None:
        return _refused('Choose a file to attach (send it as the multipart field "file").', "invalid")
    try:
        created = uploads.upload_create(owner=request.user, name=upload.name or "", data=upload.read())
    except ServiceError as exc:
        return _refused(exc.message, exc.code)
    return JsonResponse(upload_payload(created), status=201)


@login_required
@require_http_methods(["GET", "HEAD", "DELETE"])
def upload_file(request, upload_id):
    """GET: the file of one's own unsent upload; DELETE: discard it."""
    if request.method == "DELETE":
        try:
            uploads.upload_discard(owner=request.user, upload_id=upload_id)
        except ServiceError as exc:
            raise Http404(exc.message) from None
        return HttpResponse(status=204)
    upload = selectors.upload_of(request.user, upload_id)
    if upload is None:
        raise Http404("No such upload.")
    return _serve(request, upload.blob, upload.name)


@login_required
@require_GET
def turn_file(request, conversation_id: int, turn_id: int, index: int):
    """The `index`-th attachment of a turn, for whoever may read its conversation."""
    if conversation_for(request.user, conversation_id, need=Need.READ) is None:
        raise Http404("No such conversation.")
    descriptor = selectors.turn_attachment(conversation_id=conversation_id, turn_id=turn_id, index=index)
    return _serve_descriptor(request, descriptor)


@require_GET
def shared_file(request, token: str, turn_id: int, index: int):
    """A turn's attachment through a share link: only of the turns the link shows."""
    link = share_for(request.user, token)
    if link is None:
        raise Http404("This link does not exist, has expired or was revoked.")
    attachments = shown_attachments(link, turn_id)
    response = _serve_descriptor(request, selectors.attachment_of(attachments, index))
    # As the shared page: not for search engines, and the token must not leak through a Referer.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _serve_descriptor(request, descriptor: dict | None):
    blob = selectors.blob_of(descriptor) if descriptor is not None else None
    if blob is None:
        raise Http404("No such file.")
    return _serve(request, blob, str(descriptor.get("name") or "file"))  # type: ignore[union-attr]


def _content_type(blob: Blob, data_start: bytes) -> str:
    if blob.kind == Blob.Kind.IMAGE:
        return blob.media_type
    if blob.media_type == PDF_TYPE:
        return PDF_TYPE
    # Text is kept as it came: UTF-8, or UTF-16 with its byte order mark.
    return "text/plain; charset=utf-16" if data_start[:2] in (b"\xff\xfe", b"\xfe\xff") else "text/plain; charset=utf-8"


def _serve(request, blob: Blob, name: str):
    thumb = request.GET.get("thumb") == "1"
    if thumb and blob.kind != Blob.Kind.IMAGE:
        raise Http404("Only images have thumbnails.")
    stored = thumbnail_name(blob.sha256) if thumb else blob_name(blob.sha256)
    etag = f'"{blob.sha256}{"-thumbnail" if thumb else ""}"'
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, max-age=31536000, immutable",
        "ETag": etag,
    }
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        not_modified = HttpResponseNotModified()
        for header, value in headers.items():
            not_modified[header] = value
        return not_modified
    try:
        handle = attachment_storage().open(stored, "rb")
    except OSError:
        raise Http404("This file is missing from storage.") from None
    if thumb:
        content_type = "image/webp"
        name = name.rsplit(".", 1)[0] + "-thumbnail.webp"
    else:
        content_type = _content_type(blob, handle.read(2))
        handle.seek(0)
    disposition = "attachment" if content_type == PDF_TYPE else "inline"
    response = FileResponse(handle, content_type=content_type)
    for header, value in headers.items():
        response[header] = value
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(name, safe='')}"
    return response
