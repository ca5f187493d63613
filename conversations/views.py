"""Pages. Thin: each checks access with the one permission check and calls a selector or service."""
from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from conversations import selectors, services
from conversations.payloads import turn_payload
from conversations.permissions import Need, conversation_for
from conversations.providers import registry

MIN_COMPARE, MAX_COMPARE = 2, 4
ID_PATTERN = re.compile(r"[0-9]{1,18}")  # ASCII digits, within the database's id range


def _conversation_or_404(request, conversation_id: int, need: Need):
    conversation = conversation_for(request.user, conversation_id, need=need)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def _conversation_data(conversation, user) -> dict:
    forked_from = None
    source = conversation.forked_from
    if source is not None and conversation_for(user, source.conversation_id, need=Need.READ):
        forked_from = {
            "conversation": source.conversation_id,
            "turn": source.id,
            "title": str(source.conversation),
        }
    return {
        "id": conversation.id,
        "title": conversation.title,
        "main_turn": conversation.main_turn_id,
        "forked_from": forked_from,
    }


def _branch_data(view: selectors.BranchView, user) -> dict:
    forks = selectors.forks_of(turn_ids=[t.id for t in view.turns], user=user)
    return {
        "conversation": _conversation_data(view.conversation, user),
        "turns": [
            turn_payload(t, siblings=view.siblings.get(t.id), forks=forks.get(t.id)) for t in view.turns
        ],
    }


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    if not settings.SIGNUP_OPEN:
        raise Http404("Sign-up is closed on this workbench; ask its administrator for an account.")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_GET
def home(request):
    return render(
        request,
        "conversations/home.html",
        {
            "conversations": selectors.conversations_for(user=request.user)[:200],
            "models": registry().choices(),
            "local_model_problem": registry().local_model_problem,
        },
    )


@login_required
@require_POST
def conversation_new(request):
    conversation = services.conversation_create(owner=request.user)
    return redirect("conversation", conversation_id=conversation.id)


@login_required
@require_GET
def conversation_detail(request, conversation_id: int, turn_id: int | None = None):
    conversation = _conversation_or_404(request, conversation_id, Need.READ)
    view = selectors.branch_view(conversation=conversation, turn_id=turn_id)
    if view is None:
        raise Http404("No such turn in this conversation.")
    reg = registry()
    page = {
        **_branch_data(view, request.user),
        "models": [{"id": c.id, "label": c.label} for c in reg.choices()],
        "default_model": reg.default_model(),
        "local_model_problem": reg.local_model_problem,
        "limits": {
            "max_message_chars": settings.MAX_MESSAGE_CHARS,
            "max_output_tokens": settings.MAX_OUTPUT_TOKENS,
        },
        "urls": {
            "socket": f"/ws/conversations/{conversation.id}/",
            "turn": reverse("conversation_turn", args=[conversation.id, 0]),
            "branch": reverse("branch_json", args=[conversation.id, 0]),
            "tree": reverse("tree_json", args=[conversation.id]),
            "compare": reverse("compare", args=[conversation.id]),
            "fork": reverse("conversation_fork", args=[conversation.id, 0]),
        },
    }
    return render(
        request,
        "conversations/conversation.html",
        {
            "conversation": conversation,
            "conversations": selectors.conversations_for(user=request.user)[:200],
            "page": page,
        },
    )


@login_required
@require_GET
def branch_json(request, conversation_id: int, turn_id: int):
    conversation = _conversation_or_404(request, conversation_id, Need.READ)
    view = selectors.branch_view(conversation=conversation, turn_id=turn_id)
    if view is None:
        raise Http404("No such turn in this conversation.")
    return JsonResponse(_branch_data(view, request.user))


@login_required
@require_POST
def conversation_rename(request, conversation_id: int):
    conversation = _conversation_or_404(request, conversation_id, Need.WRITE)
    services.conversation_rename(conversation=conversation, title=request.POST.get("title", ""))
    return redirect("conversation", conversation_id=conversation.id)


@login_required
@require_POST
def conversation_delete(request, conversation_id: int):
    conversation = _conversation_or_404(request, conversation_id, Need.WRITE)
    try:
        services.conversation_delete(conversation=conversation)
    except services.ServiceError as exc:
        return HttpResponseBadRequest(exc.message)
    return redirect("home")


@login_required
@require_GET
def tree_json(request, conversation_id: int):
    conversation = _conversation_or_404(request, conversation_id, Need.READ)
    return JsonResponse({"nodes": selectors.tree_nodes(conversation=conversation)})


@login_required
@require_POST
def conversation_fork(request, conversation_id: int, turn_id: int):
    conversation = _conversation_or_404(request, conversation_id, Need.READ)
    if not selectors.turn_path(conversation_id=conversation.id, turn_id=turn_id):
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
    conversation = _conversation_or_404(request, conversation_id, Need.READ)
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
    reg = registry()
    page = {
        "conversation": _conversation_data(conversation, request.user),
        "shared": [turn_payload(t) for t in found.shared],
        "columns": [{"tip": tip, "turns": [turn_payload(t) for t in turns]} for tip, turns in found.columns],
        "models": [{"id": c.id, "label": c.label} for c in reg.choices()],
        "urls": {
            "socket": f"/ws/conversations/{conversation.id}/",
            "turn": reverse("conversation_turn", args=[conversation.id, 0]),
        },
    }
    return render(
        request,
        "conversations/compare.html",
        {"conversation": conversation, "page": page, "columns": len(found.columns)},
    )
