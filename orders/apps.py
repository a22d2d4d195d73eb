from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from deadletters import hooks
        from ordersite import checks  # noqa: F401  (registers the settings checks, issue 5)

        from .deadletter_hooks import OrderDeadLetterHooks

        hooks.register(OrderDeadLetterHooks())
