"""What a step finds when it starts, as on Azure ML: its code snapshot, a working directory with ./outputs and
./logs, the AZUREML_* and AZURE_ML_* variables, and for a distributed job one process per rank with the
variables its framework reads.

Snapshots are content-addressed: ``<engine folder>/snapshots/<sha256 of the files>/``, shared by every step and run
whose code folder holds the same files. As on Azure ML, ``.amlignore`` (or else ``.gitignore``) in the code folder
leaves files out, and a snapshot holds at most 300 MB in 2,000 files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pathspec

SNAPSHOT_MAX_BYTES = 300 * 1024 * 1024
SNAPSHOT_MAX_FILES = 2000
ALWAYS_LEFT_OUT = ("__pycache__", ".git", ".ipynb_checkpoints")
ARTIFACTS = "artifacts"  # the output every step has: what it wrote to ./outputs


class SnapshotError(Exception):
    """A code folder that cannot be snapshotted (too big, unreadable). The message names the folder."""


# --- code snapshots -------------------------------------------------------------------------------------------


def snapshot_files(code: str | os.PathLike) -> list[Path]:
    """The files of a code folder a snapshot holds, sorted, ignore files applied; SnapshotError past the limits."""
    root = Path(code)
    ignore = next((root / n for n in (".amlignore", ".gitignore") if (root / n).is_file()), None)
    spec = pathspec.GitIgnoreSpec.from_lines(
        ignore.read_text(errors="replace").splitlines() if ignore else []
    )
    files, size = [], 0
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in ALWAYS_LEFT_OUT and not spec.match_file(f"{(here / d).relative_to(root)}/")
        )
        for name in sorted(names):
            path = here / name
            if path.is_symlink() or spec.match_file(str(path.relative_to(root))):
                continue
            files.append(path)
            size += path.stat().st_size
            if len(files) > SNAPSHOT_MAX_FILES or size > SNAPSHOT_MAX_BYTES:
                raise SnapshotError(
                    f"code folder {root} holds more than {SNAPSHOT_MAX_FILES:,} files or "
                    f"{SNAPSHOT_MAX_BYTES // 2**20} MB, the most a snapshot takes; leave data out with an .amlignore "
                    "file in it"
                )
    return files


def snapshot_digest(code: str | os.PathLike, files: list[Path] | None = None) -> str:
    """The sha256 of the snapshot's file names and contents: equal folders give equal digests."""
    root = Path(code)
    digest = hashlib.sha256()
    for path in snapshot_files(root) if files is None else files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(f"{path.stat().st_mode & 0o111:o}\0".encode())  # executable or not
        with path.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def take_snapshot(code: str | os.PathLike, snapshots: Path) -> str:
    """Copy the code folder into ``snapshots/<digest>`` unless a snapshot of the same files is there; its digest."""
    root = Path(code)
    try:
        files = snapshot_files(root)
        digest = snapshot_digest(root, files)
    except OSError as error:
        raise SnapshotError(f"code folder {root} could not be read: {error.strerror or error}") from None
    target = snapshots / digest
    if target.is_dir():
        return digest
    snapshots.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=snapshots))
    try:
        for path in files:
            copy = staging / path.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
        staging.rename(target)  # whole or absent, even with two submits racing
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise
    return digest


def snapshot_listing(folder: Path, limit: int = 500) -> Iterator[tuple[str, int]]:
    """(relative path, size) of a snapshot's files, at most ``limit``."""
    count = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path.relative_to(folder).as_posix(), path.stat().st_size
            count += 1
            if count >= limit:
                return


# --- the working directory and the variables ------------------------------------------------------------------


def working_dir(step_folder: Path, snapshot: Path | None) -> Path:
    """A fresh copy of the snapshot (or an empty folder) with ./outputs and ./logs, as a step starts on Azure ML.

    A copy, so a step that writes into its working directory never changes the snapshot other steps run from.
    """
    wd = step_folder / "wd"
    if wd.exists():  # a step started again (its worker was lost): it starts clean
        shutil.rmtree(wd)
    if snapshot is not None:
        shutil.copytree(snapshot, wd, symlinks=True)
    for name in ("outputs", "logs"):
        (wd / name).mkdir(parents=True, exist_ok=True)
    return wd


def azureml_variables(
    *,
    run_id: str,
    step_id: str,
    is_command_job: bool,
    experiment: str,
    inputs: dict[str, Any],
    outputs: dict[str, str],
) -> dict[str, str]:
    """The variables Azure ML sets in a job that mean something here: which run this is, its experiment, and
    where each input and output is (``AZURE_ML_INPUT_<name>``, ``AZURE_ML_OUTPUT_<name>``, names as written)."""
    variables = {
        # A command job is the run; a pipeline's step is a child run of the pipeline run.
        "AZUREML_RUN_ID": run_id if is_command_job else step_id,
        "AZUREML_ROOT_RUN_ID": run_id,
        "AZUREML_ARM_PROJECT_NAME": experiment,  # Azure ML's name for the experiment's
    }
    if not is_command_job:
        variables["AZUREML_PARENT_RUN_ID"] = run_id
    for name, value in inputs.items():
        if value is not None:
            variables[f"AZURE_ML_INPUT_{name}"] = str(value)
    for name, path in outputs.items():
        if name != ARTIFACTS:
            variables[f"AZURE_ML_OUTPUT_{name}"] = str(path)
    return variables


# --- distributed jobs -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_variables(distribution: dict[str, Any] | None, instances: int) -> list[dict[str, str]]:
    """One mapping of variables per process to start: ``[{}]`` for a job that is not distributed.

    Every instance is this machine, so ranks count across instances and processes alike.
    """
    if not distribution:
        return [{}]
    kind, per_instance = distribution["type"], distribution["processes_per_instance"]
    world = per_instance * instances
    if kind == "pytorch":
        master = str(free_port())
        return [
            {
                "RANK": str(rank),
                "LOCAL_RANK": str(rank % per_instance),
                "NODE_RANK": str(rank // per_instance),
                "GROUP_RANK": str(rank // per_instance),
                "WORLD_SIZE": str(world),
                "LOCAL_WORLD_SIZE": str(per_instance),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": master,
            }
            for rank in range(world)
        ]
    if kind == "mpi":
        return [
            {
                "OMPI_COMM_WORLD_RANK": str(rank),
                "OMPI_COMM_WORLD_SIZE": str(world),
                "OMPI_COMM_WORLD_LOCAL_RANK": str(rank % per_instance),
                "OMPI_COMM_WORLD_LOCAL_SIZE": str(per_instance),
                "OMPI_COMM_WORLD_NODE_RANK": str(rank // per_instance),
            }
            for rank in range(world)
        ]
    # tensorflow: workers first, then parameter servers, each at an address of its own.
    servers = distribution.get("parameter_servers", 0)
    tasks = [("worker", i) for i in range(world)] + [("ps", i) for i in range(servers)]
    cluster: dict[str, list[str]] = {}
    for role, _ in tasks:
        cluster.setdefault(role, []).append(f"127.0.0.1:{free_port()}")
    return [
        {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": role, "index": index}})}
        for role, index in tasks
    ]


def process_count(distribution: dict[str, Any] | None, instances: int) -> int:
    if not distribution:
        return 1
    return distribution["processes_per_instance"] * instances + distribution.get("parameter_servers", 0)


def process_log_names(count: int) -> list[tuple[str, str]]:
    """(stdout, stderr) log names of each process: process 0 writes the step's own stdout and stderr."""
    return [("stdout", "stderr")] + [(f"stdout.{i}", f"stderr.{i}") for i in range(1, count)]
