"""`manage.py backends check`, `manage.py sync` and the backends file's checks, for Azure ML workspaces."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from backends import registry
from backends.azureml import compose
from tests.azureml.conftest import AZURE, azure_options

pytestmark = pytest.mark.django_db


def test_check_prints_what_the_workspace_holds(replay, capsys):
    replay()

    call_command("backends", "check", AZURE)

    out = capsys.readouterr().out
    assert f"{AZURE}: ok (azureml)" in out
    for fact in ("region: westus", "experiments: 3", "schedules: 4 (2 enabled)", "published pipelines: 2"):
        assert fact in out


def test_check_says_which_workspace_does_not_exist_and_how_to_find_it(replay, capsys):
    w = compose.Composer()
    w.error(
        "GET",
        w.arm("", "api-version=2024-10-01-preview"),
        404,
        "ResourceNotFound",
        "The Resource 'Microsoft.MachineLearningServices/workspaces/00000' under resource group '00000' was not found.",
    )
    replay(w)

    with pytest.raises(CommandError, match="1 of the backends checked failed"):
        call_command("backends", "check", AZURE)

    err = capsys.readouterr().err
    assert "no workspace '00000' in resource group '00000'" in err and "(ResourceNotFound)" in err
    assert "az ml workspace list -g 00000" in err


def test_check_without_a_credential_says_how_to_sign_in(configure_backends, monkeypatch, capsys):
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    options = azure_options("", credential="environment")
    del options["recording"]
    configure_backends({AZURE: options})

    with pytest.raises(CommandError):
        call_command("backends", "check")

    err = capsys.readouterr().err
    assert "no credential could sign in (EnvironmentCredential" in err and "az login" in err


def test_sync_prints_the_runs_it_added_and_changed(replay, redis_url, capsys):
    replay()

    call_command("sync", "--backend", AZURE)
    call_command("sync", "--backend", AZURE)

    first, second = capsys.readouterr().out.split(f"{AZURE}: read")[1:]
    assert "5 added" in first and "+ test_680454434153" in first
    assert "0 added" in second


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"workspace_name": ""}, "field 'workspace_name' is missing"),
        (
            {"subscription_id": "my-subscription"},
            "field 'subscription_id': 'my-subscription' is not a subscription id",
        ),
        ({"credential": "password"}, "field 'credential': 'password' is not one of default"),
        ({"experiments": "nightly"}, "field 'experiments' must be a list of experiment names"),
        ({"recording": "/nowhere.json"}, "field 'recording': '/nowhere.json' is not a readable file"),
        ({"workspace": "x"}, "field 'workspace' is not an Azure ML backend setting"),
    ],
)
def test_a_bad_entry_fails_at_start_naming_the_entry_and_the_field(
    configure_backends, tmp_path, change, says
):
    recording = compose.Composer().dump(tmp_path / "r.json")
    with pytest.raises(ImproperlyConfigured) as failed:
        configure_backends({"azure-prod": {**azure_options(recording), **change}})
        registry.configured()
    assert "backend 'azure-prod': " in str(failed.value) and says in str(failed.value)
