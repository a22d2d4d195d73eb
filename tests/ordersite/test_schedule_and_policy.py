"""Beat's schedule names real tasks, and each step carries its own retry policy from settings."""

from django.conf import settings

from ordersite.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    assert {"orders.resend_stuck_orders", "shipping.retry_pending_shipments"} <= {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert all(entry["task"] in app.tasks for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_steps_take_their_retry_options_from_the_policy_in_settings():
    app.loader.import_default_modules()
    for name, options in settings.PIPELINE_RETRY_POLICY.items():
        if name in app.tasks:
            assert all(getattr(app.tasks[name], option) == value for option, value in options.items()), name
    assert app.tasks["payments.authorize_payment"].max_retries == settings.PIPELINE_MAX_RETRIES
    assert (
        app.tasks["shipping.create_shipment"].max_retries
        == settings.PIPELINE_RETRY_POLICY["shipping.create_shipment"]["max_retries"]
    )
