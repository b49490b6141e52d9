"""The three roles as groups. Their permissions are written out here, as they were when this ran."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ_ALL = [
    "runs.view_pipeline",
    "runs.view_pipelinerun",
    "runs.view_steprun",
    "runs.view_publishedpipeline",
    "dashboard.view_action",
]
ROLES = {
    "viewer": [*READ_ALL, "runs.publish_pipelinerun"],
    "operator": [
        *READ_ALL,
        "runs.publish_pipelinerun",
        "runs.cancel_pipelinerun",
        "runs.resubmit_pipelinerun",
        "runs.submit_publishedpipeline",
    ],
    "schedule-manager": [*READ_ALL, "runs.publish_pipelinerun", "runs.enable_publishedpipeline"],
}


def create_roles(apps, schema_editor):
    # Permissions are normally made after all migrations ran; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("dashboard", "0002_action_outcome_and_retries"),
        ("runs", "0002_published_pipelines_and_tokens"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
