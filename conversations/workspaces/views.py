"""Workspace and member pages. Thin: each checks access with the one permission check
(`workspace_for`) and calls a service in `conversations.workspaces.services`.

Outsiders get 404, never 403; managing members needs MANAGE (owners). A service's refusal
(`ServiceError`) re-renders the page with its message and status 400, like a form error.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from conversations.errors import ServiceError
from conversations.models import Membership, Workspace
from conversations.permissions import Need, Role, allows, workspace_for
from conversations.workspaces import services as workspace_services

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def _workspace_or_404(request, workspace_id: int, need: Need) -> WithAnnotations[Workspace, Role]:
    workspace = workspace_for(request.user, workspace_id, need=need)
    if workspace is None:
        raise Http404("No such workspace.")
    return workspace


def _list_page(request, *, error: str = "", name: str = "", status: int = 200) -> HttpResponse:
    context = {"workspaces": workspace_services.workspaces_for(request.user), "error": error, "name": name}
    return render(request, "workspaces/workspaces.html", context, status=status)


def _workspace_page(
    request, workspace: WithAnnotations[Workspace, Role], *, error: str = "", form: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "workspace": workspace,
        "members": workspace_services.members_of(workspace),
        "is_owner": allows(workspace.role, Need.MANAGE),
        "is_personal": workspace.personal_of_id is not None,
        "roles": workspace_services.ROLES,
        "error": error,
        # What the person typed into the form that failed, so they need not type it again.
        "form": form or {},
    }
    return render(request, "workspaces/workspace.html", context, status=status)


@login_required
@require_GET
def workspaces(request):
    return _list_page(request)


@login_required
@require_POST
def workspace_create(request):
    name = request.POST.get("name", "")
    try:
        workspace = workspace_services.workspace_create(owner=request.user, name=name)
    except ServiceError as exc:
        return _list_page(request, error=exc.message, name=name, status=400)
    return redirect("workspace", workspace_id=workspace.id)


@login_required
@require_GET
def workspace_detail(request, workspace_id: int):
    return _workspace_page(request, _workspace_or_404(request, workspace_id, Need.READ))


@login_required
@require_POST
def workspace_rename(request, workspace_id: int):
    workspace = _workspace_or_404(request, workspace_id, Need.MANAGE)
    name = request.POST.get("name", "")
    try:
        workspace_services.workspace_rename(workspace=workspace, name=name)
    except ServiceError as exc:
        workspace.refresh_from_db(fields=["name"])
        return _workspace_page(request, workspace, error=exc.message, form={"name": name}, status=400)
    return redirect("workspace", workspace_id=workspace.id)


@login_required
@require_POST
def workspace_invite(request, workspace_id: int):
    workspace = _workspace_or_404(request, workspace_id, Need.MANAGE)
    who, role = request.POST.get("who", ""), request.POST.get("role", "")
    try:
        workspace_services.member_invite(workspace=workspace, who=who, role=role)
    except ServiceError as exc:
        return _workspace_page(request, workspace, error=exc.message, form={"who": who, "role": role}, status=400)
    return redirect("workspace", workspace_id=workspace.id)


def _is_me(request, workspace: Workspace, membership_id: int) -> bool:
    return Membership.objects.filter(pk=membership_id, workspace=workspace, user=request.user).exists()


@login_required
@require_POST
def workspace_member_role(request, workspace_id: int, membership_id: int):
    workspace = _workspace_or_404(request, workspace_id, Need.MANAGE)
    role = request.POST.get("role", "")
    try:
        membership = workspace_services.member_set_role(workspace=workspace, membership_id=membership_id, role=role)
    except ServiceError as exc:
        return _workspace_page(request, workspace, error=exc.message, status=400)
    if membership.user_id == request.user.pk and not allows(membership.role, Need.MANAGE):
        # They may still read the workspace, but not the page of forms they just left.
        return redirect("workspaces")
    return redirect("workspace", workspace_id=workspace.id)


@login_required
@require_POST
def workspace_member_remove(request, workspace_id: int, membership_id: int):
    workspace = _workspace_or_404(request, workspace_id, Need.MANAGE)
    leaving = _is_me(request, workspace, membership_id)
    try:
        workspace_services.member_remove(workspace=workspace, membership_id=membership_id)
    except ServiceError as exc:
        return _workspace_page(request, workspace, error=exc.message, status=400)
    if leaving:
        return redirect("workspaces")
    return redirect("workspace", workspace_id=workspace.id)
