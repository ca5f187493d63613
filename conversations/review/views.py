"""Review's endpoints: JSON reads and writes for a conversation's pages, and the inbox.

Every action checks its need with the one permission check (`permissions.REVIEW_ACTION_NEEDS`):
someone who may not read the conversation gets 404, a reader who may not review 403; the service
checks what is a person's own. Writes take JSON and answer JSON; their frames reach every open
socket of the conversation (services.py)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from conversations.converters import url_template
from conversations.errors import ServiceError
from conversations.permissions import REVIEW_ACTION_NEEDS, Need, conversation_for, workspace_for
from conversations.review import selectors, services
from conversations.review.frames import comment_payload
from conversations.validation import check_strings, loads_untrusted

MAX_BODY_BYTES = 64_000


def _refused(message: str, code: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message, "code": code}, status=status)


def _conversation(request, conversation_id: int, action: str):
    """The conversation if this person may do `action` in it; else Http404, or a 403 answer for a
    reader who may not review."""
    need = REVIEW_ACTION_NEEDS[action]
    conversation = conversation_for(request.user, conversation_id, need=need)
    if conversation is not None:
        return conversation
    if need is not Need.READ and conversation_for(request.user, conversation_id, need=Need.READ) is not None:
        return _refused(services.FORBIDDEN, "forbidden", 403)
    raise Http404("No such conversation.")


def _json_body(request) -> dict:
    if len(request.body) > MAX_BODY_BYTES:
        raise ServiceError(f"The request is over {MAX_BODY_BYTES:,} bytes.", code="too_large")
    data = loads_untrusted(request.body or b"{}", name="The request")
    if not isinstance(data, dict):
        raise ServiceError("Send a JSON object.", code="invalid")
    check_strings(data, name="The request")
    return data


def _write(request, conversation_id: int, action: str, run):
    """Check `action`, read the JSON body, run the service; its refusal becomes a JSON answer."""
    conversation = _conversation(request, conversation_id, action)
    if isinstance(conversation, JsonResponse):
        return conversation
    try:
        return JsonResponse(run(conversation, _json_body(request)))
    except ServiceError as exc:
        status = {"forbidden": 403, "not_found": 404}.get(exc.code, 400)
        return _refused(exc.message, exc.code, status)


@login_required
@require_GET
def review_json(request, conversation_id: int):
    conversation = _conversation(request, conversation_id, "read")
    return JsonResponse({
        **selectors.review_summary(conversation=conversation, user=request.user),
        "urls": review_urls(conversation.id),
    })


def review_urls(conversation_id: int) -> dict:
    """What a page's review scripts ask and post to, as URL templates (static/js/urls.js fills them)."""
    ids = {"conversation_id": conversation_id}
    return {
        "summary": reverse("review_json", args=[conversation_id]),
        "threads": url_template("turn_comments_json", "turn_id", **ids),
        "comment": url_template("comment_create", "turn_id", **ids),
        "edit": url_template("comment_edit", "comment_id", **ids),
        "delete": url_template("comment_delete", "comment_id", **ids),
        "resolve": url_template("thread_resolve", "comment_id", **ids),
        "verdict": url_template("verdict_set", "turn_id", **ids),
        "preference": reverse("preference_set", args=[conversation_id]),
        "turn": url_template("conversation_turn", "turn_id", **ids),
    }


@login_required
@require_GET
def turn_comments_json(request, conversation_id: int, turn_id: int):
    conversation = _conversation(request, conversation_id, "read")
    return JsonResponse({"turn": turn_id, "threads": selectors.turn_threads(
        conversation_id=conversation.id, turn_id=turn_id)})


@login_required
@require_POST
def comment_create(request, conversation_id: int, turn_id: int):
    def run(conversation, data):
        comment = services.comment_create(
            conversation=conversation, user=request.user, turn_id=turn_id,
            body=data.get("body"), thread_id=data.get("thread"),
        )
        return {"comment": comment_payload(comment)}
    return _write(request, conversation_id, "comment", run)


@login_required
@require_POST
def comment_edit(request, conversation_id: int, comment_id: int):
    def run(conversation, data):
        comment = services.comment_edit(
            conversation=conversation, user=request.user, comment_id=comment_id, body=data.get("body")
        )
        return {"comment": comment_payload(comment)}
    return _write(request, conversation_id, "edit", run)


@login_required
@require_POST
def comment_delete(request, conversation_id: int, comment_id: int):
    def run(conversation, data):
        comment = services.comment_delete(conversation=conversation, user=request.user, comment_id=comment_id)
        return {"comment": comment_payload(comment)}
    return _write(request, conversation_id, "delete", run)


@login_required
@require_POST
def thread_resolve(request, conversation_id: int, comment_id: int):
    def run(conversation, data):
        comment = services.thread_resolve(
            conversation=conversation, user=request.user, comment_id=comment_id, resolved=data.get("resolved", True)
        )
        return {"comment": comment_payload(comment)}
    return _write(request, conversation_id, "resolve", run)


@login_required
@require_POST
def verdict_set(request, conversation_id: int, turn_id: int):
    def run(conversation, data):
        verdicts = services.verdict_set(
            conversation=conversation, user=request.user, turn_id=turn_id, value=data.get("value")
        )
        return {"turn": turn_id, "verdicts": verdicts}
    return _write(request, conversation_id, "vote", run)


@login_required
@require_POST
def preference_set(request, conversation_id: int):
    def run(conversation, data):
        if "turn" not in data:
            raise ServiceError('Name the branch by its last turn: {"turn": <id>}, or {"turn": null} for none.')
        preference = services.preference_set(conversation=conversation, user=request.user, turn_id=data["turn"])
        return {"turn": preference.turn_id if preference else None}
    return _write(request, conversation_id, "prefer", run)


@login_required
@require_POST
def workspace_review_setting(request, workspace_id: int):
    """The workspace owner's switch: may viewers review? (A form on the workspace page.)"""
    workspace = workspace_for(request.user, workspace_id, need=Need.MANAGE)
    if workspace is None:
        raise Http404("No such workspace.")
    services.workspace_review_setting(
        workspace=workspace, viewers_may_review=request.POST.get("viewers_may_review") == "1"
    )
    return redirect("workspace", workspace_id=workspace.id)


# --- the inbox ------------------------------------------------------------------------------------


@login_required
@require_GET
def inbox(request):
    notices = selectors.inbox(request.user)
    unread = sum(1 for notice in notices if notice.read_at is None)
    return render(request, "review/inbox.html", {"notices": notices, "unread": unread})


@login_required
@require_GET
def notification_open(request, notification_id: int):
    """Opening a notification marks it read and shows its comment on its turn, in its branch."""
    try:
        notice = services.notification_open(user=request.user, notification_id=notification_id)
    except ServiceError:
        raise Http404("No such notification.") from None
    comment = notice.comment
    url = reverse("conversation_turn", args=[notice.conversation_id, comment.turn_id])
    return redirect(f"{url}#comment-{comment.thread_id or comment.id}")


@login_required
@require_POST
def notifications_read_all(request):
    services.notifications_read_all(user=request.user)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"unread": 0})
    return redirect("inbox")
