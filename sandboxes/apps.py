from django.apps import AppConfig


class SandboxesConfig(AppConfig):
    """Test doubles: our payment and carrier sandboxes (HTTP services with injectable faults) and
    the demo data. Installed only when SANDBOXES_ENABLED (ordersite/settings/pipeline.py)."""

    name = "sandboxes"
