from django.apps import AppConfig


class SandboxesConfig(AppConfig):
    """Our own payment and carrier sandboxes (HTTP services with injectable faults)."""

    name = "sandboxes"
