"""The search page. Thin: it reads the form, checks a named workspace with the one permission
check, and calls the search selector. Anything it cannot use is answered with a message on the
page (status 400), never an error page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from conversations.errors import ServiceError
from conversations.fields import ID_PATTERN, stored_names_problem
from conversations.models import Turn
from conversations.permissions import Need, workspace_for
from conversations.registry import registry
from conversations.search import query as search_query
from conversations.search import selectors
from conversations.workspaces.services import workspaces_for

ROLES = {"prompt": Turn.Role.USER, "reply": Turn.Role.ASSISTANT}
ROLE_LABELS: dict[str, str] = {"user": "Prompt", "assistant": "Reply", "system": "System prompt"}


def _day(raw: str, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ServiceError(f"The {name} date must be a date like 2025-03-31.") from None


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filters_from(params: QueryDict, user) -> selectors.Filters:
    """The filters the form asks for. Raises ServiceError with a message for the person."""
    workspace_id = None
    if raw := params.get("w", ""):
        if not ID_PATTERN.fullmatch(raw) or workspace_for(user, int(raw), need=Need.READ) is None:
            raise ServiceError("There is no such workspace among yours.")
        workspace_id = int(raw)
    role = params.get("role", "")
    if role and role not in ROLES:
        raise ServiceError('Search prompts ("prompt"), replies ("reply") or both (leave it empty).')
    provider, model = "", ""
    if raw := params.get("model", ""):
        provider, separator, model = raw.partition(":")
        if not separator or stored_names_problem(provider=provider, model=model) is not None:
            raise ServiceError('Name the model as "<provider>:<model>", as the list of models does.')
    since, until = _day(params.get("from", ""), "from"), _day(params.get("to", ""), "to")
    if since and until and since > until:
        raise ServiceError("The from date is after the to date.")
    return selectors.Filters(
        workspace_id=workspace_id,
        role=ROLES.get(role, ""),
        provider=provider,
        model=model,
        since=_start_of(since) if since else None,
        until=_start_of(until + timedelta(days=1)) if until else None,
    )


def _page_number(raw: str) -> int:
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= selectors.MAX_PAGE:
        raise ServiceError(f"Pages of results run from 1 to {selectors.MAX_PAGE}.")
    return int(raw)


@dataclass
class Hit:
    """A result as the page shows it."""

    url: str
    title: str
    snippet: str
    role: str
    model: str
    workspace: str
    when: datetime


def _model_labels() -> dict[str, str]:
    return {choice.id: choice.label for choice in registry().choices()}


def _hits(results: selectors.Results, text: str) -> tuple[list[Hit], list[Hit]]:
    labels = _model_labels()
    found = urlencode({"q": text})
    turns = [
        Hit(
            url=f"{reverse('conversation_turn', args=[hit.conversation_id, hit.turn_id])}?{found}",
            title=hit.conversation_title,
            snippet=hit.snippet,
            role=ROLE_LABELS.get(hit.role, hit.role),
            model=labels.get(hit.model, hit.model.partition(":")[2] or hit.model),
            workspace=hit.workspace,
            when=hit.created_at,
        )
        for hit in results.turns
    ]
    titles = [
        Hit(url=reverse("conversation", args=[hit.conversation_id]), title="", snippet=hit.title, role="",
            model="", workspace=hit.workspace, when=hit.updated_at)
        for hit in results.titles
    ]
    return turns, titles


def _page_url(params: QueryDict, page: int) -> str:
    kept = params.copy()
    kept["page"] = str(page)
    return f"{reverse('search')}?{kept.urlencode()}"


@login_required
@require_GET
def search(request):
    params = request.GET
    text = params.get("q", "")
    workspaces = list(workspaces_for(request.user))
    models = _model_labels()
    chosen_model = params.get("model", "")
    if chosen_model and chosen_model not in models:
        models[chosen_model] = chosen_model
    context: dict = {
        "search_text": text,
        "form": {name: params.get(name, "") for name in ("w", "role", "model", "from", "to")},
        "workspaces": workspaces,
        "models": models,
        "show_workspace": len(workspaces) > 1,
        "error": "",
    }
    if not text.strip():
        return render(request, "search/search.html", context)
    try:
        query = search_query.parse(text)
        filters = filters_from(params, request.user)
        page = _page_number(params.get("page", ""))
    except ServiceError as exc:
        context["error"] = exc.message
        return render(request, "search/search.html", context, status=400)
    results = selectors.search(user=request.user, query=query, filters=filters, page=page)
    turns, titles = _hits(results, text)
    context.update(
        results=results,
        turns=turns,
        titles=titles,
        previous_url=_page_url(params, page - 1) if page > 1 else "",
        next_url=_page_url(params, page + 1) if results.has_next else "",
        pool=selectors.POOL,
    )
    return render(request, "search/search.html", context)
