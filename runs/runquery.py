"""What a runs list asks for: its filter form, parsed into a RunQuery (the filters, the sort, the page's
position), and the constants both the form and the queries (runs/filters.py) go by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.db.models import (
    QuerySet,
)
from django.http import QueryDict
from django.utils import timezone

from backends import registry
from backends.base import RunStatus
from dashboard import params
from dashboard.models import BackendState
from dashboard.paging import KeyOrder, Position
from runs.models import Pipeline, PipelineRun

PAGE_SIZE = 50
# How many runs one page of a text search looks through, at most: a rare word costs this, not the table.
SEARCH_WINDOW = 10_000
BULK_CAP = 1_000
# Sorting by duration with a filter, when no index holds both: fewer matching runs than this are fetched and
# sorted here (a row lookup each), more are met walking the duration index (PAGE_SIZE / share of runs entries,
# a lookup each). Both cost about sqrt(51 x runs) lookups at the threshold: 7,000 at a million runs.
PROBE = 7_000

SORTS = {
    "-created": KeyOrder("created", "created_at", descending=True),
    "created": KeyOrder("created", "created_at", descending=False),
    "-duration": KeyOrder("duration", "duration_seconds", descending=True, kind="number"),
    "duration": KeyOrder("duration", "duration_seconds", descending=False, kind="number"),
}
SORT_LABELS = {
    "-created": "Newest first",
    "created": "Oldest first",
    "-duration": "Longest first",
    "duration": "Shortest first",
}
DEFAULT_SORT = "-created"
# The list's columns: the big ones (graph layout, parameters, descriptions) stay in the database.
LIST_COLUMNS = (
    "id",
    "backend",
    "external_id",
    "pipeline_id",
    "pipeline_name",
    "display_name",
    "experiment_name",
    "status",
    "tags",
    "submitted_by",
    "created_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "synced_at",
)
# The query string's parameters, in the order a shared URL lists them.
PARAMS = (
    "q",
    "status",
    "backend",
    "pipeline",
    "experiment",
    "tag",
    "submitted_by",
    "created_after",
    "created_before",
    "sort",
)
_NON_TERMINAL = [s for s in RunStatus.ALL if s not in RunStatus.TERMINAL]


def list_runs() -> QuerySet[PipelineRun]:
    return PipelineRun.objects.only(*LIST_COLUMNS)


def known_backends() -> list[str]:
    """Configured backends, and any other a sync has recorded (runs stay after a backend is removed)."""
    names = set(registry.names()) | set(BackendState.objects.values_list("name", flat=True))
    return sorted(names)


# --- the form -----------------------------------------------------------------------------------


def _parse_when(raw: str, *, end: bool) -> tuple[datetime, bool]:
    """A date or a date and time, in the viewer's time zone unless it names one. Returns (moment, whole_day)."""
    raw = raw.strip().replace(" ", "T", 1) if "T" not in raw else raw.strip()
    if len(raw) == 10:
        day = date.fromisoformat(raw)
        if end:
            day += timedelta(days=1)  # "to 2026-05-01" takes in the whole day
        return params.moment(timezone.make_aware(datetime.combine(day, time.min)), "date"), True
    moment = datetime.fromisoformat(raw)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return params.moment(moment, "date"), False


class RunFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=255, strip=True)
    status = forms.MultipleChoiceField(
        required=False,
        choices=[(s, s) for s in RunStatus.ALL],
        error_messages={"invalid_choice": "Unknown status “%(value)s”."},
    )
    backend = forms.CharField(required=False, max_length=64, strip=True)
    pipeline = forms.CharField(required=False, max_length=20, strip=True)
    experiment = forms.CharField(required=False, max_length=255, strip=True)
    tag = forms.CharField(required=False, max_length=1300, strip=True)
    submitted_by = forms.CharField(required=False, max_length=255, strip=True)
    created_after = forms.CharField(required=False, max_length=40, strip=True)
    created_before = forms.CharField(required=False, max_length=40, strip=True)
    sort = forms.CharField(required=False, max_length=20, strip=True)

    def __init__(self, data, *, pipelines: list[Pipeline] | None, fixed_pipeline=None) -> None:
        super().__init__(data)
        self.pipelines = pipelines  # None: look the one asked for up
        if fixed_pipeline is not None:
            del self.fields["pipeline"]

    def clean_pipeline(self) -> Pipeline | None:
        value = self.cleaned_data["pipeline"]
        if not value:
            return None
        if self.pipelines is not None:
            found = next((p for p in self.pipelines if str(p.pk) == value), None)
        else:
            key = params.whole_or_none(value)
            found = Pipeline.objects.filter(pk=key).first() if key is not None else None
        if found is None:
            raise forms.ValidationError(f"No pipeline with id “{value}”.")
        return found

    def clean_tag(self) -> tuple[str, str | None] | None:
        value = self.cleaned_data["tag"]
        if not value:
            return None
        key, eq, tag_value = value.partition("=")
        key = key.strip()
        if not key or len(key) > 255 or len(tag_value) > 1024:
            raise forms.ValidationError("Write a tag as key or key=value.")
        return key, (tag_value.strip() if eq else None)

    def _clean_when(self, name: str, *, end: bool) -> tuple[datetime, bool] | None:
        value = self.cleaned_data[name]
        if not value:
            return None
        try:
            return _parse_when(value, end=end)
        except (OverflowError, params.BadParameter):
            raise forms.ValidationError(f"“{value}” is out of the range of dates.") from None
        except ValueError:
            raise forms.ValidationError(
                f"Not a date: “{value}”. Write 2026-05-01 or 2026-05-01 14:30."
            ) from None

    def clean_created_after(self):
        return self._clean_when("created_after", end=False)

    def clean_created_before(self):
        return self._clean_when("created_before", end=True)

    def clean_sort(self) -> str:
        value = self.cleaned_data["sort"] or DEFAULT_SORT
        if value not in SORTS:
            raise forms.ValidationError(f"Unknown order “{value}”.")
        return value

    def clean(self):
        data = super().clean()
        after, before = data.get("created_after"), data.get("created_before")
        if after and before and after[0] >= before[0]:
            self.add_error("created_before", "The end comes before the start.")
        return data


@dataclass
class RunQuery:
    """The list a URL asks for: valid filters, the order, and where the page starts."""

    text: str = ""
    statuses: tuple[str, ...] = ()
    backend: str = ""
    pipeline: Pipeline | None = None
    experiment: str = ""
    tag: tuple[str, str | None] | None = None
    submitted_by: str = ""
    created_after: datetime | None = None
    created_before: datetime | None = None
    before_inclusive: bool = False
    sort: str = DEFAULT_SORT
    after: Position | None = None
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, list[str]] = field(default_factory=dict)  # the parameters as given, for URLs
    fixed_pipeline: Pipeline | None = None

    @property
    def order(self) -> KeyOrder:
        return SORTS[self.sort]

    @property
    def valid(self) -> bool:
        """False when a filter could not be read: then nothing is listed (and nothing can be bulk-cancelled)."""
        return not any(name != "cursor" for name in self.errors)

    @property
    def is_filtered(self) -> bool:
        return any(self.raw.get(name) for name in PARAMS if name != "sort")

    @property
    def is_newest_first_start(self) -> bool:
        return self.sort == DEFAULT_SORT and self.after is None

    def querystring(
        self, *, cursor: str = "", include_fixed: bool = False, drop: tuple[str, ...] = ()
    ) -> str:
        """The shareable query string: only the parameters that are set, in a stable order."""
        pairs = [(name, v) for name in PARAMS if name not in drop for v in self.raw.get(name, []) if v]
        pairs = [(n, v) for n, v in pairs if not (n == "sort" and v == DEFAULT_SORT)]
        if include_fixed and self.fixed_pipeline is not None:
            pairs.append(("pipeline", str(self.fixed_pipeline.pk)))
        if cursor:
            pairs.append(("cursor", cursor))
        return urlencode(pairs)

    def sort_querystring(self, sort: str) -> str:
        """This list in another order, from its first page."""
        other = RunQuery(raw={**self.raw, "sort": [sort]}, fixed_pipeline=self.fixed_pipeline)
        return other.querystring()


def pipeline_choices() -> list[Pipeline]:
    return list(Pipeline.objects.only("id", "name", "display_name").order_by("name", "id"))


def parse_run_query(
    params: QueryDict,
    *,
    fixed_pipeline: Pipeline | None = None,
    with_cursor: bool = True,
    pipelines: list[Pipeline] | None = None,
) -> tuple[RunQuery, RunFilterForm]:
    """The list a query string asks for. Values that cannot be read are kept in ``errors``, by field."""
    form = RunFilterForm(params, pipelines=pipelines, fixed_pipeline=fixed_pipeline)
    form.is_valid()
    data = form.cleaned_data
    errors = {name: " ".join(messages) for name, messages in form.errors.items()}
    raw = {name: [v.strip() for v in params.getlist(name)] for name in PARAMS if name in params}
    if fixed_pipeline is not None:
        raw.pop("pipeline", None)
    after = data.get("created_after")
    before = data.get("created_before")
    query = RunQuery(
        text=data.get("q", ""),
        statuses=tuple(dict.fromkeys(data.get("status") or ())),
        backend=data.get("backend", ""),
        pipeline=fixed_pipeline or data.get("pipeline"),
        experiment=data.get("experiment", ""),
        tag=data.get("tag"),
        submitted_by=data.get("submitted_by", ""),
        created_after=after[0] if after else None,
        created_before=before[0] if before else None,
        before_inclusive=bool(before) and not before[1],
        sort=data.get("sort") or DEFAULT_SORT,
        errors=errors,
        raw=raw,
        fixed_pipeline=fixed_pipeline,
    )
    cursor = params.get("cursor", "").strip() if with_cursor else ""
    if cursor and "sort" not in errors:
        query.after = query.order.parse(cursor)
        if query.after is None:
            query.errors["cursor"] = "That page link does not fit this list; showing its first page."
    return query, form
