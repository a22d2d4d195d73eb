"""The DeadLetter model (no table) moved to the deadletters app. Its content type is renamed in
place, so the `review_dead_letters` permission keeps every user and group it was granted to (it
becomes `deadletters.review_dead_letters`), and the admin log's past entries still link to the page."""

from django.conf import settings
from django.db import migrations


def rename_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    old = ContentType.objects.filter(app_label="orders", model="deadletter").first()
    if old is None:
        return  # a fresh database: post_migrate creates the new one
    new = ContentType.objects.filter(app_label="deadletters", model="deadletter").first()
    if new is not None:
        # Both exist (deadletters was migrated and its permissions created first): the grants and
        # the admin log follow the old one onto the new one, then the old one goes.
        Permission = apps.get_model("auth", "Permission")
        Group = apps.get_model("auth", "Group")
        User = apps.get_model(settings.AUTH_USER_MODEL)
        LogEntry = apps.get_model("admin", "LogEntry")
        LogEntry.objects.filter(content_type=old).update(content_type=new)
        for old_perm in Permission.objects.filter(content_type=old):
            new_perm, _ = Permission.objects.get_or_create(
                content_type=new, codename=old_perm.codename, defaults={"name": old_perm.name}
            )
            for group in Group.objects.filter(permissions=old_perm):
                group.permissions.add(new_perm)
            for user in User.objects.filter(user_permissions=old_perm):
                user.user_permissions.add(new_perm)
        old.delete()
        return
    old.app_label = "deadletters"
    old.save(update_fields=["app_label"])


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0007_orderevent_append_only"),
        ("deadletters", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(rename_content_type, migrations.RunPython.noop),
        migrations.DeleteModel(name="DeadLetter"),
    ]
