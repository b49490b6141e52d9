"""A job's environment as the loader reads it (backends/local/envspec.py), and what the engine installs for it
(backends/local/conda.py): conda specs as pip requirements, conda-only packages and other Pythons refused."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from backends.local.conda import Plan, Refused, plan
from backends.local.config import EngineConfig
from backends.local.envspec import EnvironmentSpec, digest, registered_names
from backends.local.spec import SpecError, load_pipeline

CONDA = """\
name: scores-env
channels:
  - conda-forge
dependencies:
  - python>=3.11
  - pip
  - pip:
    - tabulate==0.9.0
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def pipeline(folder: Path, environment: str, component: str | None = None) -> Path:
    if component is not None:
        write(folder, "component.yml", f"type: command\ncommand: echo hi\nenvironment: {component}\n")
        job = "    component: ./component.yml\n"
    else:
        job = "    command: echo hi\n"
    return write(folder, "pipeline.yml", f"type: pipeline\njobs:\n  step:\n{job}{environment}")


def environment_of(path: Path, config: EngineConfig | None = None) -> EnvironmentSpec:
    spec = EnvironmentSpec.from_dict(load_pipeline(path, config=config).jobs["step"].environment_definition)
    assert spec is not None
    return spec


def problems_in(path: Path, config: EngineConfig | None = None) -> str:
    with pytest.raises(SpecError) as caught:
        load_pipeline(path, config=config)
    return str(caught.value)


def conda(text: str) -> EnvironmentSpec:
    return EnvironmentSpec("conda", "env", "conda.yml", text)


# --- reading -----------------------------------------------------------------------------------------


def test_an_inline_environment_keeps_its_conda_file_whole_in_the_steps_spec(tmp_path: Path) -> None:
    write(tmp_path, "conda.yml", CONDA)
    path = pipeline(
        tmp_path,
        "    environment:\n      image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04\n"
        "      conda_file: ./conda.yml\n",
    )

    spec = environment_of(path)

    assert (spec.kind, spec.name, spec.text) == ("conda", "scores-env", CONDA)
    assert spec.image == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
    assert spec.source.endswith("conda.yml")
    # The step's display name stays the image, as before.
    assert (
        load_pipeline(path).jobs["step"].environment == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
    )


def test_a_conda_file_written_inline_is_kept_as_yaml(tmp_path: Path) -> None:
    path = pipeline(
        tmp_path,
        "    environment:\n      conda_file:\n        dependencies:\n          - python=3.11\n"
        "          - pip:\n            - tabulate\n",
    )

    spec = environment_of(path)

    assert spec.kind == "conda"
    assert "- python=3.11" in spec.text and "- tabulate" in spec.text


def test_an_environment_file_is_read_with_the_conda_file_beside_it(tmp_path: Path) -> None:
    write(tmp_path, "env/conda.yml", CONDA)
    write(tmp_path, "env/environment.yml", "name: scores\nimage: python:3.11\nconda_file: conda.yml\n")

    spec = environment_of(pipeline(tmp_path, "    environment: file:./env/environment.yml\n"))

    assert (spec.kind, spec.name, spec.text) == ("conda", "scores", CONDA)


def test_a_component_may_take_its_environment_from_a_requirements_file(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "tabulate==0.9.0\n")

    spec = environment_of(
        pipeline(tmp_path, "", component="{image: python:3.11, conda_file: requirements.txt}")
    )

    assert (spec.kind, spec.text) == ("pip", "tabulate==0.9.0\n")


def test_a_jobs_own_environment_overrides_its_components(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "tabulate==0.9.0\n")
    path = pipeline(
        tmp_path,
        "    environment: azureml:AzureML-sklearn-1.5@latest\n",
        component="{conda_file: requirements.txt}",
    )

    assert environment_of(path).kind == "registered"


def test_a_registered_environment_is_kept_by_name_when_no_setting_maps_it(tmp_path: Path) -> None:
    spec = environment_of(pipeline(tmp_path, "    environment: azureml:AzureML-sklearn-1.5@latest\n"))

    assert (spec.kind, spec.name, spec.text) == ("registered", "azureml:AzureML-sklearn-1.5@latest", "")
    assert not spec.builds


def test_a_registered_environment_the_settings_map_is_read_from_the_local_file(tmp_path: Path) -> None:
    write(tmp_path, "envs/sklearn.txt", "tabulate==0.9.0\n")
    config = EngineConfig(environments={"AzureML-sklearn-1.5": "envs/sklearn.txt"}, base_dir=str(tmp_path))

    for reference in ("azureml:AzureML-sklearn-1.5@latest", "azureml:AzureML-sklearn-1.5:3"):
        spec = environment_of(pipeline(tmp_path, f"    environment: {reference}\n"), config)

        assert (spec.kind, spec.text, spec.mapped) == ("pip", "tabulate==0.9.0\n", reference)


def test_the_names_a_setting_may_give_a_registered_environment_go_from_precise_to_plain() -> None:
    assert registered_names("azureml:AzureML-sklearn-1.5@latest") == [
        "AzureML-sklearn-1.5@latest",
        "AzureML-sklearn-1.5",
    ]
    assert registered_names("azureml:my-env:2") == ["my-env:2", "my-env"]
    assert registered_names("azureml://registries/azureml/environments/sklearn-1.5/versions/3") == [
        "sklearn-1.5:3",
        "sklearn-1.5",
    ]


def test_a_setting_that_maps_to_a_missing_file_is_a_problem_at_the_jobs_line(tmp_path: Path) -> None:
    config = EngineConfig(environments={"my-env": "nowhere.yml"}, base_dir=str(tmp_path))

    found = problems_in(pipeline(tmp_path, "    environment: azureml:my-env:1\n"), config)

    assert "pipeline.yml:5: jobs.step.environment: 'azureml:my-env:1' is mapped to 'nowhere.yml'" in found


def test_environment_problems_name_their_file_line_and_field(tmp_path: Path) -> None:
    write(tmp_path, "conda.yml", "dependencies:\n  - numpy\n  - 3\n  - pip: tabulate\n")
    path = write(
        tmp_path,
        "pipeline.yml",
        "type: pipeline\njobs:\n"
        "  typo:\n    command: echo\n    environment: {image: python, conda_files: x.yml}\n"
        "  missing:\n    command: echo\n    environment: {conda_file: ./nope.yml}\n"
        "  bad:\n    command: echo\n    environment: {conda_file: ./conda.yml}\n"
        "  nothing:\n    command: echo\n    environment: {name: bare}\n",
    )

    found = problems_in(path).splitlines()

    assert any(":5: jobs.typo.environment.conda_files: unknown key 'conda_files'" in p for p in found), found
    assert any(
        ":8: jobs.missing.environment.conda_file: conda file './nope.yml' not found" in p for p in found
    )
    assert any("conda.yml:3: dependencies[1]: expected a package, got 3" in p for p in found), found
    assert any("conda.yml:4: dependencies[2]: expected a package, or 'pip:'" in p for p in found), found
    assert any(
        ":14: jobs.nothing.environment: expected an image, a build or a conda_file" in p for p in found
    )


def test_the_digest_of_a_definition_changes_with_its_text() -> None:
    first = conda(CONDA).to_dict()
    second = conda(CONDA.replace("0.9.0", "0.8.10")).to_dict()

    assert digest(first) == digest(dict(first)) != digest(second)
    assert digest(None) == ""


# --- what is installed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dependency", "requirement"),
    [
        ("numpy", "numpy"),
        ("numpy=1.26", "numpy==1.26.*"),
        ("numpy==1.26.4", "numpy==1.26.4"),
        ("pandas>=2.0,<3", "pandas>=2.0,<3"),
        ("scipy >=1.7", "scipy>=1.7"),
        ("scikit-learn 1.5.2", "scikit-learn==1.5.2"),
        ("scikit-learn 1.5*", "scikit-learn==1.5.*"),
        ("conda-forge::matplotlib-base=3.8", "matplotlib==3.8.*"),
        ("pytorch=2.1", "torch==2.1.*"),
    ],
)
def test_conda_dependencies_are_installed_as_their_pip_equivalents(dependency: str, requirement: str) -> None:
    assert plan(conda(f"dependencies:\n  - {dependency}\n")).requirements == ("pip", requirement)


def test_the_pip_section_is_installed_as_written_after_the_conda_packages() -> None:
    text = (
        "dependencies:\n  - numpy\n  - pip=24.0\n  - pip:\n    - tabulate==0.9.0  # tables\n    - -e ./lib\n"
    )

    assert plan(conda(text)).requirements == ("numpy", "pip==24.0.*", "tabulate==0.9.0", "-e ./lib")


def test_a_requirements_file_is_installed_line_by_line_with_pip_added() -> None:
    spec = EnvironmentSpec("pip", "reqs", "requirements.txt", "# tables\ntabulate==0.9.0\n\npyjokes  # fun\n")

    assert plan(spec).requirements == ("pip", "tabulate==0.9.0", "pyjokes")


def test_channels_and_renames_are_noted_for_the_system_log() -> None:
    notes = plan(conda("channels: [conda-forge, defaults]\ndependencies:\n  - py-xgboost\n")).notes

    assert notes == (
        "Conda channels (conda-forge, defaults) are not used: packages come from PyPI.",
        "'py-xgboost' is installed as 'xgboost', its name on PyPI.",
    )


@pytest.mark.parametrize(
    ("dependency", "why"),
    [
        ("cudatoolkit=11.8", "has no pip equivalent"),
        ("mkl", "has no pip equivalent"),
        ("r-ggplot2", "has no pip equivalent"),
        ("numpy=1.21.2=py38h20f2e39_0", "has a build string"),
        ("numpy 1.21 py38_0", "has a build string"),
        ("numpy[version='>=1.20']", "uses conda-only syntax"),
        ("numpy 1.20|1.21", "uses conda-only syntax"),
    ],
)
def test_a_conda_only_package_or_spec_is_refused_naming_it(dependency: str, why: str) -> None:
    with pytest.raises(Refused) as refused:
        plan(conda(f'dependencies:\n  - numpy\n  - "{dependency}"\n'))

    assert str(refused.value).startswith(f"conda package '{dependency}' {why}")
    assert "'numpy'" not in str(refused.value)


def test_every_refused_package_is_named_at_once() -> None:
    with pytest.raises(Refused) as refused:
        plan(conda("dependencies:\n  - cudatoolkit=11.8\n  - numpy\n  - cudnn\n"))

    assert "'cudatoolkit=11.8'" in str(refused.value) and "'cudnn'" in str(refused.value)


def test_the_workers_python_version_is_accepted_and_another_is_refused_naming_it() -> None:
    mine = platform.python_version()
    minor = mine.rsplit(".", 1)[0]

    assert plan(conda(f"dependencies:\n  - python={minor}\n")).python == mine
    assert plan(conda(f"dependencies:\n  - python>={minor}\n")).requirements == ("pip",)
    with pytest.raises(Refused) as refused:
        plan(conda("dependencies:\n  - python=3.8\n"))
    assert str(refused.value).startswith(
        f"'python=3.8' cannot be provided: environments are built on the worker's Python {mine}"
    )


def test_the_key_is_the_same_for_the_same_requirements_and_changes_with_them() -> None:
    reqs = EnvironmentSpec("pip", "r", "requirements.txt", "tabulate==0.9.0\n")
    same_in_conda = conda("dependencies:\n  - pip\n  - pip:\n    - tabulate==0.9.0\n")

    assert plan(reqs).key == plan(same_in_conda).key
    assert plan(reqs).key != plan(EnvironmentSpec("pip", "r", "r.txt", "tabulate==0.8.10\n")).key
    assert (
        Plan("/usr/bin/python3", "3.11.2", ("pip",)).key != Plan("/usr/bin/python3", "3.12.1", ("pip",)).key
    )
