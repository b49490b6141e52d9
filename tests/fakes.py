"""Stand-ins for remote backends that cannot run here: one that is down, one that refuses."""

from backends.base import Backend, BackendError, BackendUnavailable

DOWN = "connection refused by ml.azure.example (HTTP 503)"


class UnreachableBackend(Backend):
    def list_pipelines(self):
        raise BackendUnavailable(DOWN)

    def list_runs(self, changed_since, active_ids=frozenset()):
        raise BackendUnavailable(DOWN)

    def get_run(self, run_id):
        raise BackendUnavailable(DOWN)

    def cancel_run(self, run_id):
        raise BackendUnavailable(DOWN)


class RefusingBackend(Backend):
    def get_run(self, run_id):
        raise BackendError(f"run {run_id} is locked by the workspace")


class RecordingBackend(Backend):
    """Answers like a healthy backend and records every call, so a test can assert none was made."""

    calls: list[tuple] = []

    def _record(self, *call):
        RecordingBackend.calls.append(call)

    def get_run(self, run_id):
        self._record("get_run", run_id)
        from backends.base import RunInfo

        return RunInfo(id=run_id, status="Running", display_name="recorded")

    def get_steps(self, run_id):
        return []

    def get_graph(self, run_id):
        from backends.base import Graph

        return Graph(nodes=(), edges=())

    def cancel_run(self, run_id):
        self._record("cancel_run", run_id)
        return "CancelRequested"

    def resubmit_run(self, run_id, *, force_rerun, submitted_by=""):
        self._record("resubmit_run", run_id, force_rerun)
        from backends.base import RunInfo

        return RunInfo(id=f"{run_id}-again", status="NotStarted")

    def publish_pipeline(self, run_id, name, description, version, continue_on_step_failure):
        self._record("publish_pipeline", run_id, name)
        from backends.base import PublishedPipelineInfo

        return PublishedPipelineInfo(id=f"pub-{name}", name=name, version=version)

    def set_published_pipeline_enabled(self, published_id, enabled):
        self._record("set_published_pipeline_enabled", published_id, enabled)
        from backends.base import PublishedPipelineInfo

        return PublishedPipelineInfo(id=published_id, name="p", status="Active" if enabled else "Disabled")

    def submit_run(
        self, *, pipeline_id="", published_id="", parameters=None, experiment="", tags=None, submitted_by=""
    ):
        self._record("submit_run", pipeline_id or published_id, parameters, tags)
        from backends.base import RunInfo

        return RunInfo(
            id="submitted-1", status="NotStarted", pipeline_id=pipeline_id, published_pipeline_id=published_id
        )


class YamlFilesOnlyBackend(Backend):
    """Runs YAML files it is given, but cannot start a pipeline it holds, as the Azure ML adapter."""

    engine = "yaml-only"

    def submit_file(self, path, *, parameters, experiment="", submitted_by=""):
        raise AssertionError("not called by the pages")
