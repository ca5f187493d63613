"""Pages. Thin: each checks access with the one permission check and calls a selector or service."""
from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from conversations import replay, selectors, services
from conversations.attachments.sending import draft_tokens
from conversations.conversation_list import BadCursor, Cursor
from conversations.converters import url_template
from conversations.errors import ServiceError
from conversations.fields import ID_PATTERN
from conversations.models import Turn
from conversations.permissions import (
    Need,
    allows,
    conversation_for,
    conversation_or_404,
    workspace_for,
)
from conversations.registry import registry
from conversations.streaming.frames import turn_payload
from conversations.tokens import count
from conversations.validation import check_strings, loads_untrusted
from conversations.workspaces import services as workspaces

MIN_COMPARE, MAX_COMPARE = 2, 4


def _conversation_data(conversation, user) -> dict:
    forked_from = None
    source = conversation.forked_from
    if source is not None and conversation_for(user, source.conversation_id, need=Need.READ):
        forked_from = {
            "conversation": source.conversation_id,
            "turn": source.id,
            "title": str(source.conversation),
        }
    role = getattr(conversation, "role", None)
    return {
        "id": conversation.id,
        "title": conversation.title,
        "main_turn": conversation.main_turn_id,
        "forked_from": forked_from,
        "role": role,
        "can_write": allows(role, Need.WRITE),
        "can_manage": allows(role, Need.MANAGE),
    }


def _turns_data(turns, siblings: dict, earlier, user) -> dict:
    forks = selectors.forks_of(turn_ids=[t.id for t in turns], user=user)
    return {
        "turns": [turn_payload(t, siblings=siblings.get(t.id), forks=forks.get(t.id)) for t in turns],
        "earlier": earlier.as_json() if earlier else None,
    }


def _branch_data(view: selectors.BranchView, user) -> dict:
    cost = selectors.conversation_cost(conversation_id=view.conversation.id)
    return {
        "conversation": {
            **_conversation_data(view.conversation, user),
            "cost": None if cost is None else float(cost),
        },
        **_turns_data(view.turns, view.siblings, view.earlier, user),
    }


def _workspace_id(raw: str | None, user) -> int:
    """The workspace named by ?w= or a form field (404 unless the user belongs to it), else theirs."""
    if not raw:
        return workspaces.personal_workspace(user).id
    if not ID_PATTERN.fullmatch(raw) or workspace_for(user, int(raw), need=Need.READ) is None:
        raise Http404("No such workspace.")
    return int(raw)


def _cursor(request) -> Cursor | None:
    """The list position ?before= names (a "Load more" link's), or None for the first page."""
    raw = request.GET.get("before")
    return Cursor.parse(raw) if raw else None


def _wants_json(request) -> bool:
    """The page's scripts ask for JSON; a form posted without them gets a page."""
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_GET
def home(request):
    workspace_id = _workspace_id(request.GET.get("w"), request.user)
    try:
        sidebar = selectors.sidebar(request.user, workspace_id, before=_cursor(request))
    except BadCursor as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    reg = registry()
    return render(
        request,
        "conversations/home.html",
        {**sidebar, "models": reg.choices(), "local_model": reg.local_model},
    )


@login_required
@require_GET
def conversation_list(request):
    """A page of the conversation list, as the sidebar's HTML (its "Load more" and its refresh)."""
    workspace_id = _workspace_id(request.GET.get("w"), request.user)
    try:
        sidebar = selectors.sidebar(request.user, workspace_id, before=_cursor(request))
    except BadCursor as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    return render(
        request,
        "conversations/_conversation_groups.html",
        {"list": sidebar["conversation_list"], "list_return": f"{reverse('home')}?w={workspace_id}"},
    )


@login_required
@require_GET
def conversation_new(request):
    """A new conversation, not stored until its first message: its socket creates it (see
    streaming/new_conversation.py)."""
    workspace_id = _workspace_id(request.GET.get("w"), request.user)
    if workspace_for(request.user, workspace_id, need=Need.WRITE) is None:
        raise Http404("You cannot start conversations in this workspace.")
    reg = registry()
    page = {
        "models": [
            {"id": c.id, "label": c.label, **reg.model_info(c.id).as_json()} for c in reg.choices()
        ],
        "default_model": reg.default_model(),
        "local_model_problem": reg.local_model_problem,
        "limits": {
            "max_message_chars": settings.MAX_MESSAGE_CHARS,
            "max_output_tokens": settings.MAX_OUTPUT_TOKENS,
        },
        "urls": {
            "socket": f"/ws/workspaces/{workspace_id}/conversations/new/",
            "tokens": reverse("tokens_count"),
            "upload": reverse("upload_create"),
        },
    }
    return render(
        request,
        "conversations/new.html",
        {**selectors.sidebar(request.user, workspace_id), "starting": True, "page": page},
    )


@login_required
@require_GET
def conversation_detail(request, conversation_id: int, turn_id: int | None = None):
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    view = selectors.branch_view(conversation=conversation, turn_id=turn_id)
    if view is None:
        raise Http404("No such turn in this conversation.")
    reg = registry()
    page = {
        **_branch_data(view, request.user),
        "models": [
            {"id": c.id, "label": c.label, **reg.model_info(c.id).as_json()} for c in reg.choices()
        ],
        "default_model": reg.default_model(),
        "me": request.user.get_username(),
        "local_model_problem": reg.local_model_problem,
        "limits": {
            "max_message_chars": settings.MAX_MESSAGE_CHARS,
            "max_output_tokens": settings.MAX_OUTPUT_TOKENS,
        },
        "urls": {
            "socket": f"/ws/conversations/{conversation.id}/",
            "conversation": reverse("conversation", args=[conversation.id]),
            "turn": url_template("conversation_turn", "turn_id", conversation_id=conversation.id),
            "branch": url_template("branch_json", "turn_id", conversation_id=conversation.id),
            "earlier": url_template("earlier_json", "turn_id", conversation_id=conversation.id),
            "tree": reverse("tree_json", args=[conversation.id]),
            "compare": reverse("compare", args=[conversation.id]),
            "fork": url_template("conversation_fork", "turn_id", conversation_id=conversation.id),
            "request": url_template("reply_request", "turn_id", conversation_id=conversation.id),
            "code": url_template("reply_code", "turn_id", conversation_id=conversation.id),
            "tokens": reverse("tokens_count"),
            "export_json": reverse("conversation_export_json", args=[conversation.id]),
            "export_markdown": url_template("branch_export_markdown", "turn_id", conversation_id=conversation.id),
            # Forks link to other conversations: where a turn was forked from, and into.
            "any_conversation": url_template("conversation", "conversation_id"),
            "any_turn": url_template("conversation_turn", "conversation_id", "turn_id"),
            "share": reverse("share_create", args=[conversation.id]),
            "shares": reverse("conversation_links", args=[conversation.id]),
            "review": reverse("review_json", args=[conversation.id]),
            "upload": reverse("upload_create"),
            "turn_file": url_template("turn_file", "turn_id", "index", conversation_id=conversation.id),
        },
    }
    return render(
        request,
        "conversations/conversation.html",
        {**selectors.sidebar(request.user, conversation.workspace_id), "conversation": conversation, "page": page},
    )


@login_required
@require_GET
def branch_json(request, conversation_id: int, turn_id: int):
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    view = selectors.branch_view(conversation=conversation, turn_id=turn_id)
    if view is None:
        raise Http404("No such turn in this conversation.")
    return JsonResponse(_branch_data(view, request.user))


@login_required
@require_GET
def earlier_json(request, conversation_id: int, turn_id: int):
    """The turns just above `turn_id` on its path, for a long branch opened on its end."""
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    turns, earlier = selectors.turns_before(conversation_id=conversation.id, turn_id=turn_id)
    if not turns and earlier is None and not Turn.objects.filter(pk=turn_id, conversation=conversation).exists():
        raise Http404("No such turn in this conversation.")
    siblings = selectors.siblings_along(conversation_id=conversation.id, turns=turns)
    return JsonResponse(_turns_data(turns, siblings, earlier, request.user))


def _back(request, conversation) -> str:
    """Where a form posted from the list returns: its `next` (a path of this site), else the list."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/"):
        return target
    return f"{reverse('home')}?w={conversation.workspace_id}"


@login_required
@require_POST
def conversation_rename(request, conversation_id: int):
    conversation = conversation_or_404(request, conversation_id, Need.WRITE)
    try:
        services.conversation_rename(conversation=conversation, title=request.POST.get("title", ""))
    except ServiceError as exc:
        return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
    if _wants_json(request):
        return JsonResponse({"id": conversation.id, "title": conversation.title})
    return redirect("conversation", conversation_id=conversation.id)


@login_required
@require_POST
def conversation_delete(request, conversation_id: int):
    conversation = conversation_or_404(request, conversation_id, Need.MANAGE)
    try:
        services.conversation_delete(conversation=conversation)
    except services.ServiceError as exc:
        return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
    if _wants_json(request):
        return JsonResponse({"id": conversation_id, "deleted": True})
    return redirect(f"{reverse('home')}?w={conversation.workspace_id}")


@login_required
@require_POST
def conversation_pin(request, conversation_id: int):
    """Pin a conversation to the top of your own list (pinned=1), or unpin it (pinned=0). Anyone who
    may read it may: a pin is nobody else's business."""
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    pinned = request.POST.get("pinned")
    if pinned not in ("0", "1"):
        return HttpResponseBadRequest(
            "Say pinned=1 to pin the conversation, or pinned=0 to unpin it.", content_type="text/plain; charset=utf-8"
        )
    services.conversation_pin(conversation=conversation, user=request.user, pinned=pinned == "1")
    if _wants_json(request):
        return JsonResponse({"id": conversation.id, "pinned": pinned == "1"})
    return redirect(_back(request, conversation))


@login_required
@require_GET
def tree_json(request, conversation_id: int):
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    return JsonResponse({"nodes": selectors.tree_nodes(conversation=conversation)})


@login_required
@require_POST
def conversation_fork(request, conversation_id: int, turn_id: int):
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    if not Turn.objects.path(conversation_id=conversation.id, turn_id=turn_id):
        raise Http404("No such turn in this conversation.")
    try:
        fork = services.conversation_fork(conversation=conversation, turn_id=turn_id, owner=request.user)
    except services.ServiceError as exc:
        return HttpResponseBadRequest(exc.message)
    return redirect("conversation", conversation_id=fork.id)


def _tip_ids(raw: str) -> list[int]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts or not all(ID_PATTERN.fullmatch(part) for part in parts):
        raise ValueError("Name the branches to compare as ?tips=<turn id>,<turn id>,… (2 to 4 of them).")
    tips = list(dict.fromkeys(int(part) for part in parts))
    if not MIN_COMPARE <= len(tips) <= MAX_COMPARE:
        raise ValueError(f"Compare {MIN_COMPARE} to {MAX_COMPARE} different branches; this names {len(tips)}.")
    return tips


@login_required
@require_GET
def compare(request, conversation_id: int):
    conversation = conversation_or_404(request, conversation_id, Need.READ)
    if "siblings" in request.GET:
        # "Compare" on a turn: the branches through it and its siblings, newest four.
        if not ID_PATTERN.fullmatch(request.GET["siblings"]):
            return HttpResponseBadRequest("?siblings= takes a turn id.")
        turn_id = int(request.GET["siblings"])
        tips = selectors.sibling_tips(conversation_id=conversation.id, turn_id=turn_id, limit=MAX_COMPARE)
        if not tips:
            raise Http404("No such turn in this conversation.")
        if len(tips) < MIN_COMPARE:
            return HttpResponseBadRequest("That turn has no other version to compare it with.")
        return redirect(f"{reverse('compare', args=[conversation.id])}?tips={','.join(map(str, tips))}")
    try:
        tips = _tip_ids(request.GET.get("tips", ""))
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    found = selectors.comparison(conversation=conversation, tip_ids=tips)
    if found is None:
        raise Http404("A branch named in this comparison is not in the conversation.")
    # The base is the branch the others are diffed against: the first unless ?base= names another.
    raw_base = request.GET.get("base", "")
    if raw_base and (not ID_PATTERN.fullmatch(raw_base) or int(raw_base) not in tips):
        return HttpResponseBadRequest("?base= names one of the compared branches' tips (a turn id from ?tips=).")
    base_tip = int(raw_base) if raw_base else tips[0]
    reg = registry()
    page = {
        "conversation": _conversation_data(conversation, request.user),
        "shared": [turn_payload(t) for t in found.shared],
        "columns": [{"tip": tip, "turns": [turn_payload(t) for t in turns]} for tip, turns in found.columns],
        "base": base_tip,
        "models": [
            {"id": c.id, "label": c.label, **reg.model_info(c.id).as_json()} for c in reg.choices()
        ],
        "urls": {
            "socket": f"/ws/conversations/{conversation.id}/",
            "turn": url_template("conversation_turn", "turn_id", conversation_id=conversation.id),
            "review": reverse("review_json", args=[conversation.id]),
            "turn_file": url_template("turn_file", "turn_id", "index", conversation_id=conversation.id),
        },
    }
    return render(
        request,
        "conversations/compare.html",
        {"conversation": conversation, "page": page, "columns": len(found.columns), "base_tip": base_tip},
    )


def _with_sent_request(render):
    """A view of a reply's request: 404 for what the user may not read, 400 for a prompt."""

    @login_required
    @require_GET
    def view(request, conversation_id: int, turn_id: int):
        conversation_or_404(request, conversation_id, Need.READ)
        try:
            sent = replay.sent_request(conversation_id=conversation_id, turn_id=turn_id)
        except services.ServiceError as exc:
            if exc.code == "not_found":
                raise Http404(exc.message) from None
            return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
        return render(sent)

    view.__doc__ = render.__doc__
    return view


@_with_sent_request
def reply_request(sent: replay.SentRequest):
    """What the model saw: the messages and parameters of a reply's request."""
    return JsonResponse(sent.as_json())


@_with_sent_request
def reply_code(sent: replay.SentRequest):
    """A Python script that sends a reply's request again with the vendor's SDK."""
    return HttpResponse(replay.code_snippet(sent), content_type="text/x-python; charset=utf-8")


MAX_COUNT_TEXTS = 4


@login_required
@require_POST
def tokens_count(request):
    """Token counts of texts not yet sent (the draft, the system prompt) for a model, and of the
    files uploaded for the draft ("uploads": ids of the caller's uploads not yet sent)."""
    try:
        body = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse({"error": f"The body is larger than {limit:,} bytes: count shorter texts."}, status=400)
    try:
        data = loads_untrusted(body, name="The body")
        check_strings(data, name="The body")
    except ServiceError as exc:
        shape = 'The body must be JSON: {"model": ..., "texts": [...]}. ' if exc.code == "bad_json" else ""
        return JsonResponse({"error": shape + exc.message}, status=400)
    model_id = data.get("model") if isinstance(data, dict) else None
    texts = data.get("texts") if isinstance(data, dict) else None
    if not isinstance(model_id, str) or not model_id:
        return JsonResponse({"error": "Name the model: \"model\": \"<provider>:<model>\"."}, status=400)
    if (
        not isinstance(texts, list)
        or len(texts) > MAX_COUNT_TEXTS
        or not all(isinstance(t, str) for t in texts)
    ):
        return JsonResponse({"error": f"\"texts\" must be a list of up to {MAX_COUNT_TEXTS} strings."}, status=400)
    limit = max(settings.MAX_MESSAGE_CHARS, settings.MAX_SYSTEM_PROMPT_CHARS)
    if any(len(t) > limit for t in texts):
        return JsonResponse({"error": f"A text is longer than {limit:,} characters."}, status=400)
    uploads = data.get("uploads", [])
    most = settings.ATTACHMENT_MAX_FILES
    if not isinstance(uploads, list) or len(uploads) > most or not all(_is_uuid(u) for u in uploads):
        return JsonResponse(
            {"error": f"\"uploads\" must be a list of up to {most} ids of files you uploaded (UUID strings)."},
            status=400,
        )
    info = registry().model_info(model_id)
    answer = {
        "model": model_id,
        "encoding": info.encoding.name,
        "estimate": info.encoding.estimate,
        "counts": [count(t, info.encoding.name) for t in texts],
    }
    if "uploads" in data:
        try:
            files, total = draft_tokens(owner=request.user, upload_ids=[str(UUID(u)) for u in uploads], info=info)
        except ServiceError as exc:
            return JsonResponse({"error": exc.message}, status=400)
        # The files: each one's tokens, and all of them with the delimiters text files go in.
        answer.update({"vision": info.vision, "uploads": files, "uploads_total": total})
    return JsonResponse(answer)


def _is_uuid(value) -> bool:
    try:
        UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return isinstance(value, str)
