"""The backend contract: one small interface, plain dataclasses in and out.

Nothing outside ``backends/`` knows how a backend works; the mirror (``runs/``, ``schedules/``)
only calls these methods. No Django model crosses this boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class RunStatus:
    """Azure ML's status vocabulary (v2 ``Job.status``; v1's "Finished" is Completed)."""

    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PROVISIONING = "Provisioning"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"

    ALL = (
        NOT_STARTED,
        STARTING,
        PROVISIONING,
        PREPARING,
        QUEUED,
        RUNNING,
        FINALIZING,
        CANCEL_REQUESTED,
        COMPLETED,
        FAILED,
        CANCELED,
        NOT_RESPONDING,
    )
    TERMINAL = frozenset({COMPLETED, FAILED, CANCELED})
    ACTIVE = frozenset(ALL) - TERMINAL

    # v1 SDK spellings that mean the same thing.
    ALIASES = {"Finished": COMPLETED, "Cancelled": CANCELED}

    @classmethod
    def normalize(cls, status: str) -> str:
        status = cls.ALIASES.get(status, status)
        if status not in cls.ALL:
            raise ValueError(f"unknown run status {status!r}")
        return status

    @classmethod
    def is_terminal(cls, status: str) -> bool:
        return status in cls.TERMINAL


# --- errors ---------------------------------------------------------------------------------


class BackendErrorBase(Exception):
    """Root of the contract's errors."""


class BackendUnavailable(BackendErrorBase):
    """Transient: the backend could not be reached or is busy. Retry with backoff, and not before
    ``retry_after`` seconds when the backend said so (HTTP Retry-After)."""

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendError(BackendErrorBase):
    """Permanent: the backend refused the request. The message is shown to the user."""


class NotFound(BackendError):
    """The backend has no such object."""


class InvalidParameters(BackendError):
    """Parameters that the pipeline does not take, or of the wrong type. The message names them."""


class Conflict(BackendError):
    """The object's state forbids the request (a disabled published pipeline, one still scheduled)."""


class UnknownBackend(BackendError):
    """No backend of that name is configured (any more): what the mirror holds of it is all there is."""


class Unsupported(BackendError):
    """The backend cannot do this at all (a backend without schedules asked for them)."""


# --- dataclasses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineInput:
    """One of a pipeline's inputs, as a form to start the pipeline asks for it.

    ``type`` is Azure ML's: string, integer, number, boolean, or a data type (uri_file, uri_folder, ...) whose
    value is a path or a reference the backend checks. ``required``: a run cannot start without a value for it
    (it is not optional, and has a default, or a step needs it). ``enum``, ``min`` and ``max`` are every rule the
    value must keep, those of the steps it feeds included.
    """

    name: str
    type: str
    default: Any = None
    optional: bool = False
    required: bool = False
    description: str = ""
    enum: tuple | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class PipelineInfo:
    id: str
    name: str
    display_name: str = ""
    description: str = ""
    experiment_name: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    source: str = ""  # where the definition came from (a file path, a registry id)
    definition: str = ""  # the pipeline YAML as submitted
    inputs: tuple[PipelineInput, ...] = ()  # in the definition's order
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class PublishedPipelineInfo:
    id: str
    name: str
    description: str = ""
    version: str = ""
    status: str = "Active"  # Active | Disabled
    pipeline_id: str = ""
    source_run_id: str = ""
    endpoint: str = ""
    continue_on_step_failure: bool = False
    published_by: str = ""
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"type", "default"}
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RunInfo:
    id: str
    status: str
    display_name: str = ""
    experiment_name: str = ""
    description: str = ""
    pipeline_id: str = ""
    published_pipeline_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)  # what the backend records of it (Azure ML's)
    parameters: dict[str, Any] = field(default_factory=dict)
    submitted_by: str = ""
    compute: str = ""
    continue_on_step_failure: bool = False
    error: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None  # the sync watermark follows this
    url: str = ""  # the run's page in the backend's own interface (Azure ML Studio), if it has one
    schedule_id: str = ""  # the schedule that started it, for a backend that records no fires of its own
    # A backend that reads a run's steps (and graph) together with the run passes them here, so sync asks no more.
    steps: tuple[StepInfo, ...] | None = None
    graph: Graph | None = None


@dataclass(frozen=True)
class StepInfo:
    id: str  # the step run's id (v1 step_run_id, v2 child job name)
    node_id: str  # the step's name in the pipeline's jobs mapping
    status: str
    display_name: str = ""
    job_type: str = "command"
    command: str = ""
    environment: str = ""
    compute: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    error: str = ""
    is_reused: bool = False
    reused_run_id: str = ""
    reused_step_id: str = ""
    log_names: tuple[str, ...] = ()
    snapshot: str = ""  # the sha256 of its code snapshot, when it has code and the backend keeps one
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    url: str = ""  # the step's page in the backend's own interface, if it has one


@dataclass(frozen=True)
class GraphNode:
    node_id: str
    step_id: str = ""
    display_name: str = ""


@dataclass(frozen=True)
class GraphEdge:
    """Data flowing from ``source_node.source_output`` into ``target_node.target_input``."""

    source_node: str
    source_output: str
    target_node: str
    target_input: str


@dataclass(frozen=True)
class Graph:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


@dataclass(frozen=True)
class LogChunk:
    data: bytes
    offset: int  # where ``data`` starts
    next_offset: int  # where the next read should start
    size: int  # the log's size at the time of the read
    more: bool  # whether the log may still grow (its step is not terminal)


@dataclass(frozen=True)
class FileEntry:
    """A file or folder of a step's outputs or code snapshot."""

    path: str  # '/'-separated, relative to the area's root
    size: int | None = None  # bytes; None for a folder
    modified: datetime | None = None
    is_dir: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class FileListing:
    """One folder level, folders first, then files, each by name; at most the ``limit`` asked for."""

    entries: tuple[FileEntry, ...]
    truncated: bool = False  # the folder holds more than these


@dataclass(frozen=True)
class FileChunk:
    data: bytes
    offset: int  # where ``data`` starts
    size: int  # the file's size at the time of the read


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule. ``trigger`` is in the normal form of backends.triggers (cron, recurrence or change)."""

    id: str
    name: str
    enabled: bool
    display_name: str = ""
    description: str = ""
    trigger: dict[str, Any] = field(default_factory=dict)
    pipeline_id: str = ""
    published_pipeline_id: str = ""
    experiment_name: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    definition: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # What it runs and the backend no longer has ("published pipeline 'x' does not exist"): such a schedule
    # cannot be enabled. "" when nothing is missing, or the backend cannot tell.
    missing: str = ""


class FireStatus:
    FIRED = "Fired"  # a run was started
    SKIPPED = "Skipped"  # a slot missed while nothing was running, caught up by a later fire
    FAILED = "Failed"  # the slot came but no run could start (the reason says why)


@dataclass(frozen=True)
class FireInfo:
    """One slot of a schedule: the run it started, or why it started none."""

    schedule_id: str
    fire_time: datetime
    status: str
    trigger_path: str = ""  # change-based schedules: the file that changed
    run_id: str = ""
    reason: str = ""
    updated_at: datetime | None = None


# --- the interface --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """What ``Backend.check`` saw: one line a fact (``("region", "westus")``), and whether all was well."""

    ok: bool
    facts: tuple[tuple[str, str], ...] = ()
    problem: str = ""  # what failed, in the user's terms
    advice: str = ""  # what to do about it


class Backend:
    """A place where pipelines run. Subclasses implement what they can; the rest raise ``Unsupported``.

    ``name`` is the configured name (``local``, ``azure-prod``); every mirrored row carries it.
    """

    engine = ""  # the engine's short name in the backends file
    # Pipelines, published pipelines and schedules change rarely; a backend whose every request costs a round
    # trip lists them at most this often (seconds; 0 means every sync pass).
    catalog_seconds = 0

    def __init__(self, name: str, **options: Any) -> None:
        self.name = name
        self.options = options

    @classmethod
    def option_problems(cls, options: dict[str, Any]) -> list[str]:
        """What is wrong with a backend entry's options, each naming the field. Checked at start."""
        return []

    def describe(self) -> tuple[tuple[str, str], ...]:
        """What the backends page shows of this backend's configuration (no secrets)."""
        return ()

    def check(self) -> CheckResult:
        """Connect and report what can be seen, or exactly what failed and what to do about it."""
        raise self._unsupported("check its connection")

    def supports(self, operation: str) -> bool:
        """Whether this backend implements ``operation`` (a method of this contract), so pages show only the
        controls it can carry out."""
        method = getattr(type(self), operation, None)
        return method is not None and method is not getattr(Backend, operation, None)

    def _unsupported(self, what: str) -> BackendError:
        return Unsupported(f"backend {self.name} ({self.engine or type(self).__name__}) cannot {what}")

    def list_pipelines(self) -> list[PipelineInfo]:
        raise self._unsupported("list pipelines")

    def list_published_pipelines(self) -> list[PublishedPipelineInfo]:
        raise self._unsupported("list published pipelines")

    def list_runs(
        self, changed_since: datetime | None, active_ids: frozenset[str] = frozenset()
    ) -> list[RunInfo]:
        """Runs created or changed since ``changed_since`` (all when None) plus every non-terminal run.

        ``active_ids`` are the runs the mirror holds as not terminal: a backend that cannot ask for changes
        re-reads these, so that its cost follows what may change, not the history.
        """
        raise self._unsupported("list runs")

    def get_run(self, run_id: str) -> RunInfo:
        raise self._unsupported("read runs")

    def get_steps(self, run_id: str) -> list[StepInfo]:
        raise self._unsupported("read steps")

    def get_graph(self, run_id: str) -> Graph:
        raise self._unsupported("read step graphs")

    def get_definition(self, run_id: str) -> str:
        """The pipeline definition (YAML) the run was submitted with."""
        raise self._unsupported("show definitions")

    def read_log(self, run_id: str, step_id: str, name: str, offset: int, limit: int) -> LogChunk:
        """At most ``limit`` bytes of a step's log from ``offset``; never the whole file in memory."""
        raise self._unsupported("read logs")

    def list_files(
        self, run_id: str, step_id: str, area: str, path: str = "", limit: int = 1000
    ) -> FileListing:
        """One level of a folder of a step's files: ``area`` is ``outputs/<output name>`` or ``snapshot`` (its
        code as it ran), ``path`` is '/'-separated from the area's root ("" for the root itself).

        When ``path`` names a file the listing holds that file alone (its entry's path is ``path``), so one call
        tells a folder from a file. An output that is one file (``uri_file``) lists as a folder holding that file
        under its own name. A path outside the area (``..``, absolute, a link leading out) is NotFound.
        """
        raise self._unsupported("offer a step's files for browsing")

    def read_file(
        self, run_id: str, step_id: str, area: str, path: str, offset: int, limit: int
    ) -> FileChunk:
        """At most ``limit`` bytes of one of a step's files from ``offset`` (see list_files for the rest)."""
        raise self._unsupported("offer a step's files for browsing")

    def cancel_run(self, run_id: str) -> str:
        """Ask the run to stop. Idempotent: a terminal run is a no-op success. Returns the run's status."""
        raise self._unsupported("cancel runs")

    def publish_pipeline(
        self,
        run_id: str,
        name: str,
        description: str,
        version: str,
        continue_on_step_failure: bool,
    ) -> PublishedPipelineInfo:
        raise self._unsupported("publish pipelines")

    def set_published_pipeline_enabled(self, published_id: str, enabled: bool) -> PublishedPipelineInfo:
        """Active or Disabled. Disabling is refused (Conflict) while an enabled schedule uses it."""
        raise self._unsupported("disable or enable published pipelines")

    def resubmit_run(self, run_id: str, *, force_rerun: bool, submitted_by: str = "") -> RunInfo:
        """A new run of the same definition and parameters; without force_rerun, completed steps are reused."""
        raise self._unsupported("resubmit runs")

    def list_schedules(self) -> list[ScheduleInfo]:
        raise self._unsupported("list schedules")

    def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> ScheduleInfo:
        raise self._unsupported("disable or enable schedules")

    def list_fires(self, changed_since: datetime | None) -> list[FireInfo]:
        """Schedule fires recorded or changed since the watermark (all when None)."""
        raise self._unsupported("list schedule fires")

    def submit_run(
        self,
        *,
        pipeline_id: str = "",
        published_id: str = "",
        parameters: dict[str, Any] | None = None,
        experiment: str = "",
        tags: dict[str, str] | None = None,
        submitted_by: str = "",
    ) -> RunInfo:
        """A run of a pipeline (``pipeline_id``) or a published pipeline (``published_id``). ``parameters`` are
        the inputs given a value other than their default (None clears an optional one); ``tags`` are the run's,
        over the pipeline's own. InvalidParameters names a value the pipeline does not take."""
        raise self._unsupported("submit runs")

    def submit_file(
        self, path: str, *, parameters: dict[str, Any], experiment: str = "", submitted_by: str = ""
    ) -> RunInfo:
        """Run an Azure ML CLI v2 job or pipeline YAML file, as ``az ml job create -f`` would."""
        raise self._unsupported("run YAML files")
