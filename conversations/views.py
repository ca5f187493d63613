"""Pages. Thin: each checks access with the one permission check and calls a selector or service."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from conversations import selectors, services
from conversations.payloads import turn_payload
from conversations.permissions import Need, conversation_for
from conversations.providers import registry


def _conversation_or_404(request, conversation_id: int, need: Need):
    conversation = conversation_for(request.user, conversation_id, need=need)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def _branch_data(view: selectors.BranchView) -> dict:
    return {
        "conversation": {"id": view.conversation.id, "title": view.conversation.title},
        "turns": [turn_payload(t, siblings=view.siblings.get(t.id)) for t in view.turns],
    }


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
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
        **_branch_data(view),
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
    return JsonResponse(_branch_data(view))


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
    services.conversation_delete(conversation=conversation)
    return redirect("home")
