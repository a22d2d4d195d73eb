"""The admin page for faults: each sandbox's fault settings with a form. It calls the same
functions as `manage.py sandbox_faults`; there is no model, all of it lives in Redis."""

from dataclasses import asdict

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from .faults import SANDBOXES, all_faults, reset_faults, set_faults


class FaultsForm(forms.Form):
    latency_ms = forms.IntegerField(min_value=0, initial=0)
    jitter_ms = forms.IntegerField(min_value=0, initial=0)
    error_rate = forms.FloatField(min_value=0, max_value=1, initial=0)
    timeout_rate = forms.FloatField(min_value=0, max_value=1, initial=0)
    down = forms.BooleanField(required=False)
    seed = forms.IntegerField(initial=0)


def faults_view(request: HttpRequest) -> HttpResponse:
    """GET shows; POST `set_faults` or `reset_faults` for one sandbox, then back."""
    if request.method == "POST":
        action, name = request.POST.get("action"), request.POST.get("name", "")
        if action == "reset_faults" and name in SANDBOXES:
            reset_faults(name)
            messages.success(request, f"Sandbox {name}: no faults.")
        elif action == "set_faults" and name in SANDBOXES:
            form = FaultsForm(request.POST)
            if form.is_valid():
                set_faults(name, **form.cleaned_data)
                messages.success(request, f"Sandbox {name}: faults changed.")
            else:
                messages.error(request, f"Sandbox {name}: {form.errors.as_text()}")
        return redirect(request.path)
    context = {
        **admin.site.each_context(request),
        "title": "Sandbox faults",
        "sandboxes": [
            (name, FaultsForm(initial=asdict(f), auto_id=f"{name}_%s"))
            for name, f in all_faults().items()
        ],
    }
    return TemplateResponse(request, "admin/faults.html", context)
