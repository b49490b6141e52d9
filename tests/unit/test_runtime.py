"""What a step finds when it starts (backends/local/runtime.py): content-addressed code snapshots, a working
directory with ./outputs and ./logs, Azure ML's variables, and the variables of each distributed framework."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backends.local import runtime


def code_folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --- snapshots ------------------------------------------------------------------------------------------------


def test_a_snapshot_is_named_by_its_contents_and_shared_by_equal_folders(tmp_path: Path) -> None:
    a = code_folder(tmp_path / "a", {"train.py": "print(1)\n", "lib/util.py": "X = 1\n"})
    b = code_folder(tmp_path / "b", {"train.py": "print(1)\n", "lib/util.py": "X = 1\n"})
    store = tmp_path / "snapshots"

    first, second = runtime.take_snapshot(a, store), runtime.take_snapshot(b, store)

    assert first == second and len(first) == 64
    assert sorted(p.name for p in store.iterdir()) == [first]  # one copy, no staging folder left behind
    assert (store / first / "lib" / "util.py").read_text() == "X = 1\n"


def test_a_changed_file_or_name_makes_another_snapshot(tmp_path: Path) -> None:
    folder = code_folder(tmp_path / "code", {"train.py": "print(1)\n"})
    store = tmp_path / "snapshots"
    before = runtime.take_snapshot(folder, store)

    (folder / "train.py").write_text("print(2)\n")
    changed = runtime.take_snapshot(folder, store)
    (folder / "train.py").rename(folder / "fit.py")
    renamed = runtime.take_snapshot(folder, store)

    assert len({before, changed, renamed}) == 3
    assert (store / before / "train.py").read_text() == "print(1)\n"  # the earlier snapshot is untouched


def test_amlignore_then_gitignore_leave_files_out_and_caches_are_never_taken(tmp_path: Path) -> None:
    folder = code_folder(
        tmp_path / "code",
        {
            "train.py": "",
            "data/big.csv": "1,2\n",
            "notes.tmp": "",
            "keep.tmp": "",
            "__pycache__/train.cpython-311.pyc": "",
            ".git/HEAD": "ref",
            ".amlignore": "data/\n*.tmp\n!keep.tmp\n",
            ".gitignore": "train.py\n",  # not read: .amlignore comes first
        },
    )

    files = [p.relative_to(folder).as_posix() for p in runtime.snapshot_files(folder)]

    assert files == [".amlignore", ".gitignore", "keep.tmp", "train.py"]


def test_gitignore_applies_when_there_is_no_amlignore(tmp_path: Path) -> None:
    folder = code_folder(tmp_path / "code", {"train.py": "", "out/model.bin": "", ".gitignore": "out/\n"})

    assert [p.name for p in runtime.snapshot_files(folder)] == [".gitignore", "train.py"]


def test_a_folder_past_the_snapshot_limits_is_refused_naming_it(tmp_path: Path, monkeypatch) -> None:
    folder = code_folder(tmp_path / "code", {f"f{i}.py": "" for i in range(5)})
    monkeypatch.setattr(runtime, "SNAPSHOT_MAX_FILES", 4)

    with pytest.raises(runtime.SnapshotError) as caught:
        runtime.take_snapshot(folder, tmp_path / "snapshots")

    assert str(folder) in str(caught.value) and ".amlignore" in str(caught.value)
    assert not (tmp_path / "snapshots").exists()


def test_the_executable_bit_is_part_of_the_snapshot(tmp_path: Path) -> None:
    folder = code_folder(tmp_path / "code", {"run.sh": "echo hi\n"})
    store = tmp_path / "snapshots"
    plain = runtime.take_snapshot(folder, store)

    os.chmod(folder / "run.sh", 0o755)
    executable = runtime.take_snapshot(folder, store)

    assert plain != executable
    assert os.access(store / executable / "run.sh", os.X_OK)


# --- the working directory ------------------------------------------------------------------------------------


def test_a_step_starts_in_a_copy_of_its_snapshot_with_outputs_and_logs(tmp_path: Path) -> None:
    store = tmp_path / "snapshots"
    digest = runtime.take_snapshot(code_folder(tmp_path / "code", {"train.py": "x"}), store)

    wd = runtime.working_dir(tmp_path / "step", store / digest)
    (wd / "train.py").write_text("changed by the step")

    assert sorted(p.name for p in wd.iterdir()) == ["logs", "outputs", "train.py"]
    assert (store / digest / "train.py").read_text() == "x"  # the snapshot other steps share is unchanged
    again = runtime.working_dir(tmp_path / "step", store / digest)
    assert (again / "train.py").read_text() == "x"


def test_a_step_without_code_starts_in_an_empty_folder_with_outputs_and_logs(tmp_path: Path) -> None:
    wd = runtime.working_dir(tmp_path / "step", None)

    assert sorted(p.name for p in wd.iterdir()) == ["logs", "outputs"]


# --- variables ------------------------------------------------------------------------------------------------


def test_a_pipeline_step_sees_its_run_its_parent_its_experiment_and_where_its_data_is() -> None:
    variables = runtime.azureml_variables(
        run_id="run-1",
        step_id="step-9",
        is_command_job=False,
        experiment="houses",
        inputs={"data": "/in/data", "lr": 0.1, "label": None},
        outputs={"model": "/out/model", "artifacts": "/wd/outputs"},
    )

    assert variables == {
        "AZUREML_RUN_ID": "step-9",
        "AZUREML_PARENT_RUN_ID": "run-1",
        "AZUREML_ROOT_RUN_ID": "run-1",
        "AZUREML_ARM_PROJECT_NAME": "houses",
        "AZURE_ML_INPUT_data": "/in/data",
        "AZURE_ML_INPUT_lr": "0.1",
        "AZURE_ML_OUTPUT_model": "/out/model",
    }


def test_a_command_job_is_its_own_run_without_a_parent() -> None:
    variables = runtime.azureml_variables(
        run_id="run-1", step_id="step-9", is_command_job=True, experiment="e", inputs={}, outputs={}
    )

    assert variables["AZUREML_RUN_ID"] == "run-1" and "AZUREML_PARENT_RUN_ID" not in variables


def test_pytorch_processes_get_ranks_across_instances_and_one_master() -> None:
    procs = runtime.process_variables({"type": "pytorch", "processes_per_instance": 2}, instances=2)

    assert [(p["RANK"], p["LOCAL_RANK"], p["NODE_RANK"]) for p in procs] == [
        ("0", "0", "0"),
        ("1", "1", "0"),
        ("2", "0", "1"),
        ("3", "1", "1"),
    ]
    assert {p["WORLD_SIZE"] for p in procs} == {"4"} and {p["LOCAL_WORLD_SIZE"] for p in procs} == {"2"}
    assert len({(p["MASTER_ADDR"], p["MASTER_PORT"]) for p in procs}) == 1
    assert 0 < int(procs[0]["MASTER_PORT"]) < 65536


def test_mpi_processes_get_open_mpis_world_variables() -> None:
    procs = runtime.process_variables({"type": "mpi", "processes_per_instance": 3}, instances=1)

    assert [p["OMPI_COMM_WORLD_RANK"] for p in procs] == ["0", "1", "2"]
    assert {p["OMPI_COMM_WORLD_SIZE"] for p in procs} == {"3"}
    assert [p["OMPI_COMM_WORLD_LOCAL_RANK"] for p in procs] == ["0", "1", "2"]


def test_tensorflow_processes_get_a_tf_config_naming_the_cluster_and_their_task() -> None:
    procs = runtime.process_variables(
        {"type": "tensorflow", "processes_per_instance": 2, "parameter_servers": 1}, instances=1
    )

    configs = [json.loads(p["TF_CONFIG"]) for p in procs]
    assert [c["task"] for c in configs] == [
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
        {"type": "ps", "index": 0},
    ]
    cluster = configs[0]["cluster"]
    assert all(c["cluster"] == cluster for c in configs)
    assert len(cluster["worker"]) == 2 and len(cluster["ps"]) == 1
    assert len(set(cluster["worker"] + cluster["ps"])) == 3


def test_a_job_that_is_not_distributed_starts_one_process_with_the_steps_own_logs() -> None:
    assert runtime.process_variables(None, 1) == [{}]
    assert runtime.process_log_names(3) == [
        ("stdout", "stderr"),
        ("stdout.1", "stderr.1"),
        ("stdout.2", "stderr.2"),
    ]
    assert (
        runtime.process_count({"type": "tensorflow", "processes_per_instance": 2, "parameter_servers": 1}, 2)
        == 5
    )
