"""Building an environment with uv (backends/local/envbuild.py): real builds of a small pure-Python package from
PyPI, a package that does not exist, and a build stopped half-way. No Django."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from backends.local.conda import Plan, Refused, plan
from backends.local.envbuild import BuildFailed, build
from backends.local.envspec import EnvironmentSpec

TABULATE = EnvironmentSpec("conda", "tables", "conda.yml", "dependencies:\n  - pip:\n    - tabulate==0.9.0\n")


def run_build(the_plan: Plan, target: Path, cache: Path, tick=lambda: None) -> list[str]:
    shown: list[str] = []
    build(
        the_plan, target, target.parent / "build.log", cache=cache, tick=tick, show=shown.append, timeout=300
    )
    return shown


def test_it_builds_an_environment_with_a_package_from_pypi_that_still_works_once_moved(tmp_path, uv_cache):
    shown = run_build(plan(TABULATE), tmp_path / "building", uv_cache)
    os.rename(tmp_path / "building", tmp_path / "env")
    env = tmp_path / "env"

    imported = subprocess.run(
        [env / "bin" / "python", "-c", "import sys, tabulate; print(sys.prefix, tabulate.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.split() == [str(env), "0.9.0"]
    # Its console scripts find the moved environment's Python too.
    table = subprocess.run(
        [env / "bin" / "tabulate", "-1"], input="a b\n1 2\n", capture_output=True, text=True
    )
    assert table.returncode == 0 and "a" in table.stdout and "---" in table.stdout
    assert subprocess.run([env / "bin" / "pip", "--version"], capture_output=True).returncode == 0
    assert any("tabulate==0.9.0" in line for line in shown)
    assert "$ uv pip install" in (tmp_path / "build.log").read_text()


def test_the_environment_is_isolated_from_the_workers_packages(tmp_path, uv_cache):
    run_build(plan(TABULATE), tmp_path / "env", uv_cache)

    imported = subprocess.run(
        [tmp_path / "env" / "bin" / "python", "-c", "import django"], capture_output=True
    )

    assert imported.returncode != 0


def test_a_package_pypi_does_not_have_fails_the_build_in_uvs_words(tmp_path, uv_cache):
    missing = EnvironmentSpec("pip", "r", "requirements.txt", "runboard-no-such-package-4711==1.0\n")

    with pytest.raises(BuildFailed) as failed:
        run_build(plan(missing), tmp_path / "env", uv_cache)

    assert "runboard-no-such-package-4711" in str(failed.value)
    assert "runboard-no-such-package-4711" in (tmp_path / "build.log").read_text()


def test_a_build_stops_when_its_step_is_canceled(tmp_path, uv_cache):
    class Canceled(Exception):
        pass

    ticks = []

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 2:  # once the virtual environment is made, before pip installs anything
            raise Canceled

    with pytest.raises(Canceled):
        run_build(
            plan(EnvironmentSpec("pip", "r", "r.txt", "tabulate==0.9.0\n")), tmp_path / "env", uv_cache, tick
        )

    assert (tmp_path / "env" / "bin" / "python").exists()
    assert list((tmp_path / "env").rglob("tabulate*")) == []


def test_a_conda_only_package_is_refused_before_anything_is_built() -> None:
    with pytest.raises(Refused) as refused:
        plan(
            EnvironmentSpec(
                "conda", "gpu", "conda.yml", "dependencies:\n  - cudatoolkit=11.8\n  - tabulate\n"
            )
        )

    assert (
        str(refused.value)
        == "conda package 'cudatoolkit=11.8' has no pip equivalent (only conda provides it)"
    )
