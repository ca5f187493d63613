"""Sign-up; sign-in and sign-out are Django's own views (see urls.py)."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from conversations.accounts import throttling


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    if not settings.SIGNUP_OPEN:
        raise Http404("Sign-up is closed on this workbench; ask its administrator for an account.")
    form: UserCreationForm[User] = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The password is hashed here, before the sign-up's transaction begins.
        user = form.save(commit=False)
        try:
            throttling.account_create(user=user, client=throttling.client_address(request))
        except throttling.SignupLimitReached as refusal:
            return render(
                request, "registration/signup.html", {"form": form, "refusal": str(refusal)}, status=429
            )
        # Named because axes adds a backend of its own, which checks but never signs anyone in.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})
