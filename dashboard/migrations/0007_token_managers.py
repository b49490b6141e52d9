from django.db import migrations


def update_roles(apps, schema_editor):
    from dashboard.roles import ensure_roles

    ensure_roles(apps)  # schedule managers may see and revoke every user's tokens


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0006_backend_check"),
        ("runs", "0006_apitoken_manage_permission"),
    ]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]
