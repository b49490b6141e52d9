"""Data inputs beyond local paths, as the loader reads them (backends/local/datarefs.py): URLs, datastore paths and
data assets resolved through the engine's settings, modes, and each refusal as file:line: field: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.local.config import EngineConfig
from backends.local.config import problems as config_problems
from backends.local.datarefs import blob_url, cache_key, shown, shown_inputs
from backends.local.spec import SpecError, load_pipeline

SETTING = "the local engine's entry in the backends file (RUNBOARD_BACKENDS)"


def pipeline(tmp_path: Path, inputs: str, job_inputs: str = "", outputs: str = "") -> Path:
    """A one-job pipeline: pipeline inputs from line 3, the job's own from line 8 (its outputs after them)."""
    path = tmp_path / "pipeline.yml"
    path.write_text(
        "type: pipeline\n"
        "inputs:\n"
        f"{inputs}\n"
        "jobs:\n"
        "  a:\n"
        "    command: echo hello\n"
        "    inputs:\n"
        f"{job_inputs or '      n: 1'}\n" + (f"    outputs:\n{outputs}\n" if outputs else "")
    )
    return path


def problems(path: Path, config: EngineConfig | None = None) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_pipeline(path, config=config)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    (folder / "iris").mkdir(parents=True)
    (folder / "iris" / "iris.csv").write_text("sepal_length,species\n5.1,setosa\n")
    return folder


# --- URLs ---------------------------------------------------------------------------------------------------


def test_an_https_uri_file_is_kept_as_its_url_for_the_step_to_download(tmp_path):
    url = "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv"
    spec = load_pipeline(pipeline(tmp_path, f"  iris: {{type: uri_file, path: '{url}'}}"))

    assert spec.inputs["iris"].default == url


def test_a_wasbs_url_is_read_over_https_in_either_spelling():
    https = "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv"

    assert blob_url("wasbs://datasets@azuremlexamples.blob.core.windows.net/iris.csv") == https
    assert blob_url("wasbs://azuremlexamples.blob.core.windows.net/datasets/iris.csv") == https


def test_a_uri_folder_url_is_accepted_as_a_folder_to_hold_that_one_file(tmp_path):
    spec = load_pipeline(
        pipeline(tmp_path, "  d: {type: uri_folder, path: 'http://data.example/one/file.csv'}")
    )

    assert spec.inputs["d"].default == "http://data.example/one/file.csv"


def test_a_url_in_a_job_binding_is_kept_as_a_literal(tmp_path):
    spec = load_pipeline(
        pipeline(
            tmp_path,
            "  n: 1",
            "      d: {type: uri_file, path: 'https://data.example/d.csv', mode: download}",
        )
    )

    binding = spec.jobs["a"].inputs["d"]
    assert (binding.kind, binding.type, binding.value) == (
        "literal",
        "uri_file",
        "https://data.example/d.csv",
    )


def test_a_folder_url_is_refused_because_a_url_gives_no_listing(tmp_path):
    path = pipeline(tmp_path, "  d: {type: uri_folder, path: 'https://data.example/folder/'}")

    assert problems(path) == [
        "3: inputs.d.path: 'https://data.example/folder/' names a folder, and a URL gives no listing: the local "
        "engine downloads one file, so give the file's URL (a uri_folder then holds that file), or map the "
        "datastore to a local folder"
    ]


def test_a_model_url_is_refused_because_only_one_file_can_be_downloaded(tmp_path):
    path = pipeline(tmp_path, "  m: {type: mlflow_model, path: 'https://data.example/model.zip'}")

    assert problems(path) == [
        "3: inputs.m.path: 'https://data.example/model.zip': a mlflow_model cannot be downloaded from a URL by "
        "the local engine (only uri_file and uri_folder can, one file each); map it to a local folder"
    ]


def test_a_scheme_the_engine_cannot_read_is_refused_naming_what_it_reads(tmp_path):
    path = pipeline(tmp_path, "  d: {type: uri_file, path: 's3://bucket/d.csv'}")

    assert problems(path) == [
        "3: inputs.d.path: 's3://bucket/d.csv' is not a path the local engine can read: it reads local paths, "
        "http(s) and wasbs:// URLs, and azureml://datastores/<name>/paths/<path>, azureml:<name>:<version> or "
        "azureml:<name>@latest"
    ]


def test_a_sas_signature_is_redacted_where_a_url_is_shown_and_left_out_of_a_blobs_cache_key():
    url = "https://acct.blob.core.windows.net/c/d.csv?sv=2024-01-01&sp=r&sig=s3cr3t&snapshot=2026-01-01"

    assert (
        shown(url)
        == "https://acct.blob.core.windows.net/c/d.csv?sv=2024-01-01&sp=r&sig=REDACTED&snapshot=2026-01-01"
    )
    assert cache_key(url) == "https://acct.blob.core.windows.net/c/d.csv?snapshot=2026-01-01"
    assert cache_key("https://data.example/d.csv?version=2") == "https://data.example/d.csv?version=2"


# --- datastores ---------------------------------------------------------------------------------------------


def test_a_datastore_mapped_to_a_folder_reads_the_file_in_place(tmp_path, store):
    config = EngineConfig(datastores={"workspaceblobstore": str(store)})
    path = pipeline(
        tmp_path,
        "  iris: {type: uri_file, path: 'azureml://datastores/workspaceblobstore/paths/iris/iris.csv'}",
    )

    spec = load_pipeline(path, config=config)

    assert spec.inputs["iris"].default == str(store / "iris" / "iris.csv")  # no copy: the file itself


def test_a_datastore_folder_is_relative_to_the_backends_file(tmp_path, store):
    config = EngineConfig(datastores={"blobs": "store"}, base_dir=str(tmp_path))
    path = pipeline(tmp_path, "  d: {type: uri_folder, path: 'azureml://datastores/blobs/paths/iris'}")

    assert load_pipeline(path, config=config).inputs["d"].default == str(store / "iris")


def test_the_long_form_of_a_datastore_uri_is_read_by_its_datastore_name(tmp_path, store):
    config = EngineConfig(datastores={"workspaceblobstore": str(store)})
    uri = (
        "azureml://subscriptions/0000/resourcegroups/rg/workspaces/ws/datastores/workspaceblobstore/paths/iris/"
        "iris.csv"
    )

    spec = load_pipeline(pipeline(tmp_path, f"  iris: {{type: uri_file, path: '{uri}'}}"), config=config)

    assert spec.inputs["iris"].default == str(store / "iris" / "iris.csv")


def test_a_datastore_path_that_does_not_exist_is_refused_at_validate(tmp_path, store):
    config = EngineConfig(datastores={"workspaceblobstore": str(store)})
    path = pipeline(
        tmp_path, "  d: {type: uri_file, path: 'azureml://datastores/workspaceblobstore/paths/nope.csv'}"
    )

    assert problems(path, config) == [
        f"3: inputs.d.path: 'azureml://datastores/workspaceblobstore/paths/nope.csv' does not exist ({store}/nope.csv)"
    ]


def test_a_datastore_path_may_not_climb_out_of_its_folder(tmp_path, store):
    config = EngineConfig(datastores={"workspaceblobstore": str(store / "iris")})
    path = pipeline(
        tmp_path, "  d: {type: uri_file, path: 'azureml://datastores/workspaceblobstore/paths/../x'}"
    )

    assert problems(path, config) == [
        "3: inputs.d.path: 'azureml://datastores/workspaceblobstore/paths/../x': a datastore path may not climb "
        f"out of its datastore ({store}/iris)"
    ]


def test_a_datastore_mapped_to_a_url_gives_the_files_url_keeping_its_sas(tmp_path):
    config = EngineConfig(datastores={"blobs": "https://acct.blob.core.windows.net/data?sv=1&sig=abc"})
    path = pipeline(
        tmp_path, "  d: {type: uri_file, path: 'azureml://datastores/blobs/paths/2026/jan 1.csv'}"
    )

    spec = load_pipeline(path, config=config)

    assert spec.inputs["d"].default == "https://acct.blob.core.windows.net/data/2026/jan%201.csv?sv=1&sig=abc"


def test_a_datastore_mapped_to_a_wasbs_url_gives_the_blobs_https_url(tmp_path):
    config = EngineConfig(datastores={"blobs": "wasbs://data@acct.blob.core.windows.net"})
    path = pipeline(tmp_path, "  d: {type: uri_file, path: 'azureml://datastores/blobs/paths/d.csv'}")

    assert (
        load_pipeline(path, config=config).inputs["d"].default
        == "https://acct.blob.core.windows.net/data/d.csv"
    )


def test_an_unmapped_datastore_is_refused_naming_the_setting_to_add(tmp_path):
    path = pipeline(
        tmp_path,
        "  n: 1",
        "      d: {type: uri_folder, path: 'azureml://datastores/workspaceblobstore/paths/x'}",
    )

    assert problems(path) == [
        "8: jobs.a.inputs.d.path: 'azureml://datastores/workspaceblobstore/paths/x': datastore "
        "'workspaceblobstore' is not mapped to a local folder or URL; add `datastores: {workspaceblobstore: "
        f"/path/or/URL}}` to {SETTING}"
    ]


# --- data assets --------------------------------------------------------------------------------------------


def test_a_data_asset_with_a_version_reads_its_mapped_path(tmp_path, store):
    config = EngineConfig(data_assets={"iris:3": str(store / "iris" / "iris.csv")})

    spec = load_pipeline(
        pipeline(tmp_path, "  iris: {type: uri_file, path: 'azureml:iris:3'}"), config=config
    )

    assert spec.inputs["iris"].default == str(store / "iris" / "iris.csv")


def test_latest_reads_its_own_mapping_before_any_version(tmp_path, store):
    (store / "newest.csv").write_text("x\n")
    config = EngineConfig(
        data_assets={"iris:9": str(store / "iris" / "iris.csv"), "iris@latest": str(store / "newest.csv")}
    )

    spec = load_pipeline(
        pipeline(tmp_path, "  iris: {type: uri_file, path: 'azureml:iris@latest'}"), config=config
    )

    assert spec.inputs["iris"].default == str(store / "newest.csv")


def test_latest_without_its_own_mapping_reads_the_highest_version_mapped(tmp_path, store):
    (store / "v10.csv").write_text("x\n")
    config = EngineConfig(
        data_assets={"iris:9": str(store / "iris" / "iris.csv"), "iris:10": str(store / "v10.csv")}
    )

    spec = load_pipeline(
        pipeline(tmp_path, "  iris: {type: uri_file, path: 'azureml:iris@latest'}"), config=config
    )

    assert spec.inputs["iris"].default == str(store / "v10.csv")


def test_a_data_asset_may_be_a_url_or_a_path_on_a_mapped_datastore(tmp_path, store):
    config = EngineConfig(
        datastores={"workspaceblobstore": str(store)},
        data_assets={
            "web:1": "https://data.example/web.csv",
            "iris:1": "azureml://datastores/workspaceblobstore/paths/iris/iris.csv",
        },
    )
    path = pipeline(
        tmp_path,
        "  web: {type: uri_file, path: 'azureml:web:1'}\n  iris: {type: uri_file, path: 'azureml:iris:1'}",
    )

    spec = load_pipeline(path, config=config)

    assert spec.inputs["web"].default == "https://data.example/web.csv"
    assert spec.inputs["iris"].default == str(store / "iris" / "iris.csv")


def test_a_data_asset_id_in_long_form_reads_its_name_and_version(tmp_path, store):
    config = EngineConfig(data_assets={"iris:2": str(store / "iris")})
    uri = "azureml://locations/westus/workspaces/0000/data/iris/versions/2"

    spec = load_pipeline(pipeline(tmp_path, f"  d: {{type: uri_folder, path: '{uri}'}}"), config=config)

    assert spec.inputs["d"].default == str(store / "iris")


def test_an_unmapped_data_asset_is_refused_naming_the_setting_to_add(tmp_path):
    path = pipeline(
        tmp_path, "  iris: {type: uri_file, path: 'azureml:iris:1'}\n  web: {path: 'azureml:web@latest'}"
    )

    assert problems(path) == [
        "3: inputs.iris.path: 'azureml:iris:1': data asset 'iris' version '1' is not mapped to a path or URL; add "
        f'`data_assets: {{"iris:1": /path/or/URL}}` to {SETTING}',
        "4: inputs.web.path: 'azureml:web@latest': data asset 'web' label 'latest' is not mapped to a path or URL; "
        f'add `data_assets: {{"web@latest": /path/or/URL}}` to {SETTING}',
    ]


def test_a_malformed_azureml_uri_is_refused_naming_the_forms_the_engine_reads(tmp_path):
    path = pipeline(
        tmp_path,
        "  a: {type: uri_file, path: 'azureml://datastores/workspaceblobstore/x.csv'}\n"
        "  b: {type: uri_file, path: 'azureml:iris'}",
    )

    assert problems(path) == [
        "3: inputs.a.path: 'azureml://datastores/workspaceblobstore/x.csv' is not an Azure ML data reference the "
        "local engine reads; use azureml://datastores/<name>/paths/<path>, azureml:<name>:<version> or "
        "azureml:<name>@latest",
        "4: inputs.b.path: 'azureml:iris': a data asset needs a version or a label: azureml:iris:<version> or "
        "azureml:iris@latest",
    ]


# --- modes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode", ["ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download"]
)
def test_every_input_mode_azure_ml_accepts_is_accepted(tmp_path, mode):
    path = pipeline(tmp_path, f"  d: {{type: uri_file, path: 'https://data.example/d.csv', mode: {mode}}}")

    assert load_pipeline(path).inputs["d"].default == "https://data.example/d.csv"


@pytest.mark.parametrize("mode", ["rw_mount", "upload", "direct"])
def test_every_output_mode_azure_ml_accepts_is_accepted(tmp_path, mode):
    path = pipeline(tmp_path, "  n: 1", outputs=f"      o: {{type: uri_folder, mode: {mode}}}")

    assert load_pipeline(path).jobs["a"].outputs["o"].type == "uri_folder"


def test_an_unknown_mode_is_refused_naming_the_modes_of_its_side(tmp_path):
    path = pipeline(
        tmp_path,
        "  d: {type: uri_file, path: 'https://data.example/d.csv', mode: upload}",
        "      e: {path: '${{parent.inputs.d}}', mode: mount}",
        "      o: {type: uri_folder, mode: ro_mount}",
    )

    assert problems(path) == [
        "3: inputs.d.mode: unknown input mode 'upload' (one of ro_mount, rw_mount, download, direct, eval_mount, "
        "eval_download)",
        "8: jobs.a.inputs.e.mode: unknown input mode 'mount' (one of ro_mount, rw_mount, download, direct, "
        "eval_mount, eval_download)",
        "10: jobs.a.outputs.o.mode: unknown output mode 'ro_mount' (one of rw_mount, upload, direct)",
    ]


# --- values given at submit time ----------------------------------------------------------------------------


def test_a_url_given_at_submit_time_replaces_the_default(tmp_path, store):
    spec = load_pipeline(pipeline(tmp_path, f"  d: {{type: uri_file, path: '{store}/iris/iris.csv'}}"))

    given = spec.with_parameters({"inputs.d": "http://127.0.0.1:8080/d.csv"})

    assert given.inputs["d"].default == "http://127.0.0.1:8080/d.csv"


def test_a_datastore_path_given_at_submit_time_resolves_through_the_mapping(tmp_path, store):
    spec = load_pipeline(pipeline(tmp_path, f"  d: {{type: uri_file, path: '{store}/iris/iris.csv'}}"))
    config = EngineConfig(datastores={"workspaceblobstore": "https://acct.blob.core.windows.net/data"})

    given = spec.with_parameters({"d": "azureml://datastores/workspaceblobstore/paths/new.csv"}, config)

    assert given.inputs["d"].default == "https://acct.blob.core.windows.net/data/new.csv"


def test_an_unmapped_datastore_given_at_submit_time_is_refused_naming_the_input(tmp_path, store):
    spec = load_pipeline(pipeline(tmp_path, f"  d: {{type: uri_file, path: '{store}/iris/iris.csv'}}"))

    with pytest.raises(SpecError) as caught:
        spec.with_parameters({"d": "azureml://datastores/lake/paths/new.csv"})

    assert str(caught.value) == (
        f"{tmp_path}/pipeline.yml: inputs.d: 'azureml://datastores/lake/paths/new.csv': datastore 'lake' is not "
        f"mapped to a local folder or URL; add `datastores: {{lake: /path/or/URL}}` to {SETTING}"
    )


# --- the settings, and what the run page shows --------------------------------------------------------------


def test_download_max_age_must_be_a_number_of_seconds():
    assert config_problems({"download_max_age": "a day"}) == [
        "field 'download_max_age' must be a number of seconds"
    ]
    assert config_problems({"download_max_age": 0, "download_limit": 1}) == []


def test_the_run_page_shows_a_downloaded_input_as_its_url_and_its_cached_copy():
    spec = {
        "inputs": {"web": {"default": "https://data.example/w.csv?sig=s3cr3t"}},
        "jobs": {
            "a": {
                "inputs": {
                    "web": {"kind": "pipeline_input", "type": "uri_file", "source": "web"},
                    "lit": {"kind": "literal", "type": "uri_folder", "value": "https://data.example/l.csv"},
                    "word": {"kind": "literal", "type": "string", "value": "https://data.example/"},
                }
            }
        },
    }
    inputs = {"web": "/cache/data/1/w.csv", "lit": "/cache/data/2", "word": "https://data.example/"}

    assert shown_inputs(spec, "a", inputs) == {
        "web": "https://data.example/w.csv?sig=REDACTED → /cache/data/1/w.csv",
        "lit": "https://data.example/l.csv → /cache/data/2",
        "word": "https://data.example/",
    }
