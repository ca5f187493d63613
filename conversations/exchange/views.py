"""Export and import pages. Thin: the one permission check, then a parser, renderer or importer."""
from __future__ import annotations

import json
import re
import secrets

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
    chatgpt,
    check_size,
    human_size,
    importer,
    turn_char_limit,
)
from conversations.exchange.markdown import branch_markdown
from conversations.exchange.workbench_json import conversation_export
from conversations.models import Turn
from conversations.permissions import Need, conversation_or_404
from conversations.review.selectors import threads_by_turn
from conversations.selectors import sidebar
from conversations.workspaces.services import personal_workspace

SESSION_KEY = "exchange.report"
# Conversations an import summary lists, in the file's order; the sidebar lists the rest.
SUMMARY_ROWS = 500
REPORT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
# What a ChatGPT conversation left out, in words: (one, several).
LEFT_OUT_WORDS = {
    chatgpt.HIDDEN: ("hidden message", "hidden messages"),
    chatgpt.TOOL: ("tool or browsing result", "tool or browsing results"),
    chatgpt.IMAGE: ("image", "images"),
    chatgpt.REASONING: ("piece of reasoning with no reply after it", "pieces of reasoning with no reply after them"),
}


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
    body = json.dumps(conversation_export(conversation=conversation, user=request.user), ensure_ascii=False, indent=1)
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
    # ?comments=1: each turn's comments after it (review/selectors.py), as the page shows them.
    comments = None
    if request.GET.get("comments") == "1":
        comments = threads_by_turn(conversation_id=conversation.id, turn_ids=[t.id for t in turns])
    return _attachment(
        # Files are linked with this server's address (its Host checked against ALLOWED_HOSTS).
        branch_markdown(
            conversation=conversation, turns=turns, comments=comments, base_url=request.build_absolute_uri("/")
        ),
        content_type="text/markdown; charset=utf-8",
        title=conversation.title, fallback=f"conversation-{conversation.id}", extension=".md",
    )


def _left_out_text(left_out: dict[str, int]) -> str:
    """{"hidden": 2, "type:execution_output": 1} as "2 hidden messages, 1 other item (execution_output)"."""
    phrases = [
        f"{left_out[kind]:,} {LEFT_OUT_WORDS[kind][left_out[kind] != 1]}" for kind in chatgpt.LEFT_OUT_KINDS
        if left_out.get(kind)
    ]
    prefix = chatgpt.OTHER_PREFIX
    others = sorted(kind.removeprefix(prefix) for kind in left_out if kind.startswith(prefix))
    if others:
        count = sum(left_out[prefix + name] for name in others)
        phrases.append(f"{count:,} other item{'s' if count != 1 else ''} ({', '.join(others)})")
    return ", ".join(phrases)


REVIEW_WORDS = {"comments": ("comment", "comments"), "verdicts": ("verdict", "verdicts"),
                "preferences": ("preferred branch", "preferred branches")}


def _review_text(review: dict[str, int]) -> str:
    """{"comments": 3, "verdicts": 1, "preferences": 0} as "3 comments, 1 verdict, 0 preferred
    branches"; "" when the file carried no review for the conversation."""
    if not review:
        return ""
    return ", ".join(f"{review.get(kind, 0):,} {REVIEW_WORDS[kind][review.get(kind, 0) != 1]}" for kind in REVIEW_WORDS)


def _report_data(report: importer.ImportReport, file_name: str) -> dict:
    """An import's report as the session keeps it until its summary is shown: plain JSON."""
    rows: list[dict] = []
    for outcome in report.outcomes[:SUMMARY_ROWS]:
        if isinstance(outcome, importer.Imported):
            rows.append({"id": outcome.conversation.id, "title": outcome.conversation.title,
                         "turns": outcome.turns, "left_out": _left_out_text(outcome.left_out),
                         "review": _review_text(outcome.review)})
        else:
            rows.append({"title": outcome.title, "problem": outcome.problem})
    imported = report.imported
    return {
        "file": file_name[:200],
        "imported": len(imported),
        "turns": sum(outcome.turns for outcome in imported),
        "skipped": len(report.skipped),
        "rows": rows,
        "more": len(report.outcomes) - len(rows),
    }


def _summary(request, data: dict) -> dict:
    """The report with links to the conversations this person can still open."""
    ids = [row["id"] for row in data["rows"] if "id" in row]
    visible = set(selectors.conversations_for(user=request.user).filter(pk__in=ids).values_list("id", flat=True))
    rows = [
        {**row, "url": reverse("conversation", args=[row["id"]]) if row.get("id") in visible else ""}
        for row in data["rows"]
    ]
    return {**data, "rows": rows}


def _stored_summary(request) -> dict | None:
    report_id = request.GET.get("report", "")
    stored = request.session.get(SESSION_KEY)
    if not REPORT_ID.fullmatch(report_id) or not isinstance(stored, dict) or stored.get("id") != report_id:
        return None
    return _summary(request, stored["report"])


def _page(request, *, problem: str = "", summary: dict | None = None, status: int = 200) -> HttpResponse:
    return render(
        request,
        "exchange/import.html",
        {
            **sidebar(request.user, personal_workspace(request.user).id),
            "problem": problem,
            "summary": summary,
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
        return _page(request, summary=_stored_summary(request))
    upload = request.FILES.get("file")
    if upload is None:
        return _page(request, problem="Choose a file to import.", status=400)
    try:
        check_size(upload.size)  # before reading a byte of it
        report = importer.conversations_import(owner=request.user, data=upload.read())
    except ImportProblem as problem:
        return _page(request, problem=f"{upload.name}: {problem.message}", status=400)
    # A Workbench file opens its conversation; one that brought a review back first says how much
    # of it (comments, verdicts, preferred branches) came with it, on the summary.
    if report.format == importer.WORKBENCH and not any(report.imported[0].review.values()):
        return redirect("conversation", conversation_id=report.imported[0].conversation.id)
    data = _report_data(report, upload.name or "")
    if not report.imported:  # nothing was written: said as a refusal, with each conversation's problem
        skipped = report.skipped
        why = skipped[0].problem if len(skipped) == 1 else (
            f"none of its {len(skipped):,} conversations could be imported; the problem of each is named below."
        )
        return _page(request, problem=f"{upload.name}: {why}", summary=_summary(request, data), status=400)
    report_id = secrets.token_urlsafe(12)
    request.session[SESSION_KEY] = {"id": report_id, "report": data}
    return redirect(f"{reverse('conversations_import')}?report={report_id}")
