"""Stand-ins for remote backends that cannot run here: one that is down, one that refuses."""

from backends.base import Backend, BackendError, BackendUnavailable

DOWN = "connection refused by ml.azure.example (HTTP 503)"


class UnreachableBackend(Backend):
    def list_pipelines(self):
        raise BackendUnavailable(DOWN)

    def list_runs(self, changed_since):
        raise BackendUnavailable(DOWN)

    def get_run(self, run_id):
        raise BackendUnavailable(DOWN)

    def cancel_run(self, run_id):
        raise BackendUnavailable(DOWN)


class RefusingBackend(Backend):
    def get_run(self, run_id):
        raise BackendError(f"run {run_id} is locked by the workspace")
