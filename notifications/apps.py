from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from orders.timeline import EVENT_LISTENERS

        from .services import notify_on_commit

        if notify_on_commit not in EVENT_LISTENERS:
            EVENT_LISTENERS.append(notify_on_commit)
