"""The admin page for the circuit breakers: each one's state and counts, with a reset button."""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from .breakers import Breaker, BreakerName, all_breakers


def breakers_view(request: HttpRequest) -> HttpResponse:
    """GET shows every breaker; POST `name` closes that one (as `manage.py breakers --reset`),
    for staff who know its dependency is back. No model: all of it lives in Redis."""
    if request.method == "POST":
        name = request.POST.get("name", "")
        if name in tuple(BreakerName):
            Breaker(BreakerName(name)).reset()
            messages.success(request, f"Breaker {name} reset (closed).")
        return redirect(request.path)
    context = {
        **admin.site.each_context(request),
        "title": "Circuit breakers",
        "breakers": all_breakers(),
    }
    return TemplateResponse(request, "admin/breakers.html", context)
