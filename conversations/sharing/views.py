"""Share links: make and revoke them, list a user's links, and the read-only shared page.

The shared page works without an account. It checks the link on every request (revoked, expired,
members only) with the one permission check, and shows only what the link shares.
"""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from conversations.converters import url_template
from conversations.errors import ServiceError
from conversations.fields import ID_PATTERN
from conversations.models import ShareLink
from conversations.permissions import (
    Need,
    conversation_or_404,
    revocable_link,
    share_checked,
    share_for,
)
from conversations.review.shared import shared_comments
from conversations.selectors import sidebar
from conversations.sharing import services as sharing
from conversations.workspaces.services import personal_workspace

EXPIRIES = {
    "never": None,
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}

# A form's checkbox, as the page and a script may send it.
FLAGS = {"1": True, "true": True, "on": True, "": False, "0": False, "false": False, "off": False}


def _link_json(request, link: ShareLink) -> dict:
    return {
        "id": link.id,
        "url": request.build_absolute_uri(reverse("shared", args=[link.token])),
        "scope": "branch" if link.turn_id else "conversation",
        "turn": link.turn_id,
        "describes": sharing.scope_words(link),
        "with_subtree": link.with_subtree,
        "include_reasoning": link.include_reasoning,
        "include_comments": link.include_comments,
        "comment_names": link.comment_names,
        "mode": link.mode,
        "audience": link.audience,
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "state": sharing.link_state(link),
        "views": link.views,
        "created_at": link.created_at.isoformat(),
        "created_by": link.created_by.username,
        "revoke": reverse("share_revoke", args=[link.id]),
    }


@login_required
@require_POST
def share_create(request, conversation_id: int):
    """Make a link (editors and owners). Answers the link as JSON, or a 400 naming the problem."""
    conversation = conversation_or_404(request, conversation_id, Need.WRITE)
    form = request.POST
    scope = form.get("scope", "conversation")
    turn_id = None
    if scope == "branch":
        if not ID_PATTERN.fullmatch(form.get("turn", "")):
            return JsonResponse({"error": "Sharing a branch needs the id of the turn it ends at."}, status=400)
        turn_id = int(form["turn"])
    elif scope != "conversation":
        return JsonResponse({"error": "Share the conversation or a branch of it."}, status=400)
    expiry = form.get("expires", "never")
    if expiry not in EXPIRIES:
        return JsonResponse({"error": f"Expiry is one of {', '.join(EXPIRIES)}."}, status=400)
    lifetime = EXPIRIES[expiry]
    include_reasoning = form.get("include_reasoning", "")
    if include_reasoning not in FLAGS:
        return JsonResponse(
            {"error": '"include_reasoning" is on ("1", "true", "on") or off ("", "0", "false", "off").'}, status=400
        )
    include_comments = form.get("include_comments", "")
    if include_comments not in FLAGS:
        return JsonResponse(
            {"error": '"include_comments" is on ("1", "true", "on") or off ("", "0", "false", "off").'}, status=400
        )
    try:
        link = sharing.share_create(
            conversation=conversation,
            by=request.user,
            turn_id=turn_id,
            with_subtree=form.get("with_subtree") in ("1", "true", "on"),
            mode=form.get("mode", ""),
            audience=form.get("audience", ""),
            expires_at=timezone.now() + lifetime if lifetime else None,
            include_reasoning=FLAGS[include_reasoning],
            include_comments=FLAGS[include_comments],
            comment_names=form.get("comment_names", ShareLink.CommentNames.TEAMMATES),
        )
    except ServiceError as exc:
        return JsonResponse({"error": exc.message}, status=404 if exc.code == "not_found" else 400)
    return JsonResponse(_link_json(request, link), status=201)


@login_required
@require_GET
def conversation_links(request, conversation_id: int):
    """The links made to one conversation (editors and owners see them all)."""
    conversation = conversation_or_404(request, conversation_id, Need.WRITE)
    links = (
        ShareLink.objects.filter(conversation=conversation).select_related("created_by", "turn").order_by("-created_at")
    )
    return JsonResponse({"links": [_link_json(request, link) for link in links]})


@login_required
@require_POST
def share_revoke(request, link_id: int):
    """Revoke a link: its maker or an owner of the workspace may."""
    link = revocable_link(request.user, link_id)
    if link is None:
        raise Http404("No such link.")
    sharing.share_revoke(link=link)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(_link_json(request, link))
    return redirect("share_links")


@login_required
@require_GET
def share_links(request):
    """The "Shared links" page: every link the user made."""
    now = timezone.now()
    links = [
        (link, sharing.link_state(link, now), sharing.scope_words(link))
        for link in sharing.links_of(request.user)[:500]
    ]
    return render(
        request,
        "sharing/shared_links.html",
        {**sidebar(request.user, personal_workspace(request.user).id), "links": links},
    )


def _shared_or_404(request, token: str) -> ShareLink:
    link = share_for(request.user, token)
    if link is None:
        raise Http404("This link does not exist, has expired or was revoked.")
    return link


def _gone(request, link: ShareLink | None, reason: str):
    """The page a link that does not open answers with: what happened and what to do. A 404 for
    every reason, as the link's socket closes with 4404: the page tells a person more than the
    status tells a program."""
    response = render(
        request,
        "sharing/gone.html",
        {
            "reason": reason,
            "expired_on": link.expires_at if link is not None and reason == "expired" else None,
            "login": f"{reverse('login')}?next={request.path}",
        },
        status=404,
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def shared(request, token: str):
    link, refusal = share_checked(request.user, token)
    if refusal or link is None:
        return _gone(request, link, refusal or "unknown")
    tree = sharing.shared_tree(link)
    opening = sharing.opening_turn(link, tree)
    sharing.share_viewed(link)
    page = {
        "title": link.conversation.title or "Shared conversation",
        "mode": link.mode,
        "scope": "branch" if link.turn_id else "conversation",
        "with_subtree": link.with_subtree,
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "turns": tree.branch(opening) if opening is not None else [],
        # The comments on what it shares, read-only, when its maker included them (review/shared.py).
        "comments": shared_comments(link, tree.turns),
        "models": [],
        "signed_in": request.user.is_authenticated,
        "urls": {
            "socket": f"/ws/share/{token}/" if link.mode == ShareLink.Mode.LIVE else "",
            "branch": url_template("shared_branch", "turn_id", token=token),
            "turn_file": url_template("shared_file", "turn_id", "index", token=token),
            "fork": reverse("shared_fork", args=[token]),
            "login": f"{reverse('login')}?next={reverse('shared', args=[token])}",
        },
    }
    response = render(request, "sharing/shared.html", {"link": link, "page": page})
    # A shared page is not for search engines, and its token must not leak through a Referer to
    # another site. "same-origin", not "no-referrer": under "no-referrer" the browser sends
    # "Origin: null" with the page's own form (Continue in my workspace), which the CSRF check
    # rightly refuses; the site itself knows the token already.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def shared_branch(request, token: str, turn_id: int):
    link = _shared_or_404(request, token)
    tree = sharing.shared_tree(link)
    if turn_id not in tree.turns:
        raise Http404("That turn is not part of what this link shares.")
    response = JsonResponse({"turns": tree.branch(turn_id)})
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def shared_fork(request, token: str):
    """Continue in my workspace: the shared path up to a turn, copied into the visitor's own."""
    link = _shared_or_404(request, token)
    if not ID_PATTERN.fullmatch(request.POST.get("turn", "")):
        return HttpResponseBadRequest("Name the turn to continue from.")
    try:
        fork = sharing.shared_fork(
            link=link, tree=sharing.shared_tree(link), turn_id=int(request.POST["turn"]), owner=request.user
        )
    except ServiceError as exc:
        if exc.code == "not_found":
            raise Http404(exc.message) from None
        return HttpResponseBadRequest(exc.message)
    return redirect("conversation", conversation_id=fork.id)

