"""The three roles as groups: viewer, operator, schedule-manager (see dashboard/roles.py)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from dashboard.roles import ensure_roles

    ensure_roles(apps)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["viewer", "operator", "schedule-manager"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("dashboard", "0003_action_kinds"),
        ("runs", "0002_published_pipelines_and_tokens"),
        ("schedules", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
