from __future__ import annotations

import math
from typing import Any

from django import forms

from backends.inputs import LITERAL_TYPES, coerce, rule_problem
from runs.models import Pipeline, PublishedPipeline

MAX_VALUE = 10_000  # characters of one input's value


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, strip=True)


class PublishForm(ReasonForm):
    field_order = ["name", "description", "version", "continue_on_step_failure", "reason"]  # its own first

    name = forms.CharField(max_length=255)
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.CharField(max_length=64, required=False)
    continue_on_step_failure = forms.BooleanField(required=False)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'nightly ETL job'")


class SubmitPublishedForm(ReasonForm):
    """Experiment plus one text field per parameter; values are typed by the backend, which names a bad one."""

    experiment = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, published: PublishedPipeline, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, spec in published.parameters.items():
            default = spec.get("default")
            self.fields[f"param_{name}"] = forms.CharField(
                label=f"{name} ({spec.get('type', 'string')})",
                required=False,
                initial="" if default is None else str(default),
            )

    def parameters(self) -> dict[str, str]:
        """The values the user changed: the others keep the published defaults."""
        changed = {}
        for key, value in self.cleaned_data.items():
            if key.startswith("param_") and value != self.fields[key].initial:
                changed[key.removeprefix("param_")] = value
        return changed


MAX_TAGS = 50
INPUT_PREFIX = "input_"


class InputValueField(forms.CharField):
    """One pipeline input's value, typed and checked against its rules as the backend checks it
    (backends.inputs), so that a bad value is named beside its field rather than failing the run's action."""

    def __init__(self, *, spec: dict[str, Any], **kwargs) -> None:
        self.spec = spec
        self.rules = {k: spec[k] for k in ("enum", "min", "max") if spec.get(k) is not None}
        super().__init__(max_length=MAX_VALUE, **kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if not isinstance(widget, forms.TextInput):
            attrs.pop("maxlength", None)  # text boxes only: no select or number input takes it
        return attrs

    def clean(self, value: Any) -> Any:
        text = super().clean(value)  # required, length, no NUL
        if text == "":
            return None
        type_ = self.spec.get("type", "string")
        if type_ not in LITERAL_TYPES:
            return text  # a path or a data reference: the backend says whether it resolves
        try:
            typed = coerce(text, type_)
        except ValueError as error:
            raise forms.ValidationError(f"{error}.", code="type") from None
        if type_ == "number" and not math.isfinite(typed):
            raise forms.ValidationError(f"{text!r} is not a finite number.", code="type")
        if problem := rule_problem(typed, self.rules):
            raise forms.ValidationError(f"{typed!r} {problem}.", code="rule")
        return typed


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _input_field(spec: dict[str, Any]) -> InputValueField:
    type_, required = spec.get("type", "string"), bool(spec.get("required"))
    hint = [type_]
    attrs: dict[str, Any] = {}
    if spec.get("enum") is not None or type_ == "boolean":
        values = spec["enum"] if spec.get("enum") is not None else [True, False]
        choices = [(_shown(v), _shown(v)) for v in values]
        if not required or spec.get("default") is None:  # nothing chosen until the user chooses
            choices.insert(0, ("", "— no value" if not required else "— choose"))
        widget: forms.Widget = forms.Select(choices=choices)
    elif type_ in ("integer", "number"):
        attrs = {"step": "1" if type_ == "integer" else "any"}
        for rule in ("min", "max"):
            if spec.get(rule) is not None:
                attrs[rule] = _shown(spec[rule])
        widget = forms.NumberInput(attrs=attrs)
        if "min" in attrs and "max" in attrs:
            hint.append(f"{attrs['min']} to {attrs['max']}")
        elif "min" in attrs or "max" in attrs:
            hint.append(f"at least {attrs['min']}" if "min" in attrs else f"at most {attrs['max']}")
    else:
        widget = forms.TextInput()
    if spec.get("optional"):
        hint.append("optional")
    help_text = ", ".join(hint) + (f": {spec['description']}" if spec.get("description") else "")
    return InputValueField(
        spec=spec,
        label=spec["name"],
        required=required,
        initial=_shown(spec.get("default")),
        help_text=help_text,
        widget=widget,
    )


def parse_tags(text: str) -> dict[str, str]:
    """``key=value`` lines (blank ones skipped) as a run's tags."""
    tags: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise forms.ValidationError(f"Line {number}: expected key=value, e.g. team=vision.", code="tag")
        if len(key) > 255 or len(value) > 1024:
            raise forms.ValidationError(
                f"Line {number}: a key is at most 255 characters, a value 1024.", code="tag"
            )
        if key in tags:
            raise forms.ValidationError(f"Line {number}: tag {key!r} is given twice.", code="tag")
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise forms.ValidationError(f"At most {MAX_TAGS} tags.", code="tag")
    return tags


class SubmitPipelineForm(ReasonForm):
    """A run of a pipeline: one field per input (typed, its default filled in), then the experiment and tags."""

    experiment = forms.CharField(max_length=255, required=False)
    tags = forms.CharField(
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "team=vision\nticket=ML-42"}),
        help_text="One key=value a line, over the pipeline's own tags.",
    )

    def __init__(self, *args, pipeline: Pipeline, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.specs = {
            spec["name"]: spec for spec in pipeline.inputs if isinstance(spec, dict) and "name" in spec
        }
        inputs = {f"{INPUT_PREFIX}{name}": _input_field(spec) for name, spec in self.specs.items()}
        self.fields = {**inputs, **{name: self.fields[name] for name in ("experiment", "tags", "reason")}}
        self.fields["experiment"].initial = pipeline.experiment_name
        self.fields["experiment"].help_text = f"Blank: {pipeline.experiment_name or pipeline.name}."

    def input_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(INPUT_PREFIX)]

    def other_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith(INPUT_PREFIX)]

    def clean_tags(self) -> dict[str, str]:
        return parse_tags(self.cleaned_data["tags"])

    def parameters(self) -> dict[str, Any]:
        """The inputs given a value other than their default (None: an optional input's default cleared); the
        others keep the pipeline's."""
        changed = {}
        for name, spec in self.specs.items():
            value, default = self.cleaned_data[f"{INPUT_PREFIX}{name}"], spec.get("default")
            if value is None and default is None:
                continue
            if value is None or value != default:
                changed[name] = value
        return changed
