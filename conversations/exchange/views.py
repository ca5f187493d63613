"""Export and import pages. Thin: the one permission check, then a parser, renderer or importer."""
from __future__ import annotations

import json
import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods

from conversations import selectors
from conversations.exchange import (
    MAX_IMPORT_TURNS,
    ImportProblem,
    check_size,
    human_size,
    importer,
    turn_char_limit,
)
from conversations.exchange.markdown import branch_markdown
from conversations.exchange.workbench_json import conversation_export
from conversations.models import Turn
from conversations.permissions import Need, conversation_or_404
from conversations.selectors import sidebar
from conversations.workspaces.services import personal_workspace

SESSION_KEY = "exchange.imported"
# Conversations linked from an import summary; the sidebar lists the rest.
SUMMARY_LINKS = 200
COUNT = re.compile(r"[0-9]{1,9}")


def _attachment(body: str, *, content_type: str, title: str, fallback: str, extension: str) -> HttpResponse:
    name = (slugify(title, allow_unicode=True)[:80] or fallback) + extension
    response = HttpResponse(body, content_type=content_type)
    # Typed `str | None` for every call; with as_attachment=True it is always a str.
    response["Content-Disposition"] = content_disposition_header(  # type: ignore[assignment]
        as_attachment=True, filename=name
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def conversation_export_json(request, conversation_id: int):
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    body = json.dumps(conversation_export(conversation=conversation), ensure_ascii=False, indent=1)
    return _attachment(
        body, content_type="application/json; charset=utf-8", title=conversation.title,
        fallback=f"conversation-{conversation.id}", extension=".json",
    )


@login_required
@require_GET
def branch_export_markdown(request, conversation_id: int, turn_id: int):
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    turns = Turn.objects.path(conversation_id=conversation.id, turn_id=turn_id)
    if not turns:
        raise Http404("No such turn in this conversation.")
    return _attachment(
        branch_markdown(conversation=conversation, turns=turns), content_type="text/markdown; charset=utf-8",
        title=conversation.title, fallback=f"conversation-{conversation.id}", extension=".md",
    )


def _summary(request) -> dict | None:
    counts = [request.GET.get(name, "") for name in ("imported", "turns")]
    if not all(COUNT.fullmatch(value) for value in counts):
        return None
    ids = request.session.get(SESSION_KEY) or []
    links = selectors.conversations_for(user=request.user).filter(pk__in=ids[:SUMMARY_LINKS]).order_by("id")
    return {"conversations": int(counts[0]), "turns": int(counts[1]), "links": links}


def _page(request, *, problem: str = "", status: int = 200) -> HttpResponse:
    return render(
        request,
        "exchange/import.html",
        {
            **sidebar(request.user, personal_workspace(request.user).id),
            "problem": problem,
            "summary": None if problem else _summary(request),
            "max_bytes": human_size(settings.MAX_IMPORT_BYTES),
            "max_turn_chars": f"{turn_char_limit():,}",
            "max_turns": f"{MAX_IMPORT_TURNS:,}",
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def conversations_import(request):
    if request.method == "GET":
        return _page(request)
    upload = request.FILES.get("file")
    if upload is None:
        return _page(request, problem="Choose a file to import.", status=400)
    try:
        check_size(upload.size)  # before reading a byte of it
        conversations = importer.conversations_import(owner=request.user, data=upload.read())
    except ImportProblem as problem:
        return _page(request, problem=f"{upload.name}: {problem.message}", status=400)
    if len(conversations) == 1:
        return redirect("conversation", conversation_id=conversations[0].id)
    imported, turns = importer.import_summary(conversations)
    request.session[SESSION_KEY] = [c.id for c in conversations[:SUMMARY_LINKS]]
    return redirect(f"{reverse('conversations_import')}?imported={imported}&turns={turns}")
