"""A pipeline page's Submit form: one field per input of the pipeline (typed, its default filled in, required ones
marked, errors beside the field), the experiment and tags; a valid one records a Submit pipeline action, which
the page follows live. Only operators see it and may post it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from backends.local.engine import register_pipeline_file
from backends.registry import get_backend
from dashboard.actions import action_perform
from dashboard.models import Action
from runs.models import Pipeline
from runs.sync import sync_pipelines
from tests import factories
from tests.integration.helpers import PIPELINES

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
VALID = {
    "input_epochs": "3",
    "input_rate": "0.5",
    "input_mode": "fast",
    "input_verbose": "false",
    "input_label": "first try",
    "input_note": "",
    "experiment": "tests",
    "tags": "",
}


@pytest.fixture
def typed(engine_dir) -> Pipeline:
    """The typed_inputs pipeline, registered with the local engine and mirrored by sync as it is every pass."""
    register_pipeline_file(PIPELINES / "typed_inputs.yml")
    sync_pipelines(get_backend("local"))
    return Pipeline.objects.get(backend="local", external_id="typed_inputs")


def field_html(html: str, name: str) -> str:
    """The markup of one field of the form: its label, input, what it takes and its errors."""
    found = re.search(rf'<div class="submit-field[^"]*">\s*<label for="id_{name}">.*?</div>', html, re.S)
    assert found, f"no field {name}"
    return found.group(0)


def post(client, pipeline: Pipeline, **changes: str):
    return client.post(reverse("runs:pipeline_submit", args=[pipeline.pk]), {**VALID, **changes})


def test_the_sync_mirrors_each_input_with_its_type_default_and_rules_in_the_files_order(typed):
    assert [(i["name"], i["type"], i["default"], i["required"]) for i in typed.inputs] == [
        ("epochs", "integer", 3, True),
        ("rate", "number", 0.5, True),
        ("mode", "string", "fast", True),
        ("verbose", "boolean", False, True),
        ("label", "string", None, True),
        ("note", "string", None, False),
    ]
    assert (typed.inputs[0]["min"], typed.inputs[0]["max"]) == (1, 100)
    assert typed.inputs[2]["enum"] == ["fast", "careful"]


def test_the_form_fills_each_input_with_its_default_and_marks_the_required_ones(operator_client, typed):
    html = operator_client.get(typed.get_absolute_url()).content.decode()

    epochs = field_html(html, "input_epochs")
    assert 'type="number"' in epochs and 'value="3"' in epochs
    assert 'min="1"' in epochs and 'max="100"' in epochs and "integer, 1 to 100" in epochs
    assert 'value="0.5"' in field_html(html, "input_rate")
    mode = field_html(html, "input_mode")
    assert '<option value="fast" selected>' in mode and '<option value="careful">' in mode
    assert '<option value="false" selected>' in field_html(html, "input_verbose")
    label = field_html(html, "input_label")
    assert '<span class="required">required</span>' in label and "value=" not in label
    note = field_html(html, "input_note")
    assert "required" not in note and "string, optional" in note
    assert 'value="tests"' in field_html(html, "experiment")  # the pipeline's experiment
    assert "novalidate" in html  # every error comes from the server, beside its field


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("input_epochs", "three", "&#x27;three&#x27; is not an integer."),
        ("input_epochs", "2.5", "&#x27;2.5&#x27; is not an integer."),
        ("input_epochs", "500", "500 is above the maximum, 100."),
        ("input_epochs", "0", "0 is below the minimum, 1."),
        ("input_rate", "fast", "&#x27;fast&#x27; is not a number."),
        ("input_rate", "-0.1", "-0.1 is below the minimum, 0."),
        ("input_rate", "inf", "&#x27;inf&#x27; is not a finite number."),
        ("input_mode", "slow", "&#x27;slow&#x27; is not one of &#x27;fast&#x27;, &#x27;careful&#x27;."),
        ("input_verbose", "yes", "&#x27;yes&#x27; is not a boolean."),
        ("input_label", "", "This field is required."),
        ("tags", "team", "Line 1: expected key=value, e.g. team=vision."),
        ("tags", "team=a\nteam=b", "Line 2: tag &#x27;team&#x27; is given twice."),
    ],
)
def test_a_bad_value_is_named_beside_its_field_and_nothing_is_recorded(
    operator_client, typed, field, value, error, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as enqueued:
        response = post(operator_client, typed, **{field: value})

    assert response.status_code == 400
    html = response.content.decode()
    assert error in field_html(html, field)
    assert 'class="submit-field invalid"' in field_html(html, field)
    assert '<details class="panel" id="pipeline-submit" open>' in html
    assert not Action.objects.exists() and enqueued == []


def test_a_valid_form_records_the_inputs_that_differ_from_their_defaults(
    operator_client, operator, typed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as enqueued:
        response = post(
            operator_client,
            typed,
            input_epochs="7",
            input_mode="careful",
            input_verbose="true",
            tags="team=vision\n\n ticket = ML-42 ",
            reason="try a longer run",
        )

    assert response.status_code == 302 and response["Location"] == typed.get_absolute_url()
    action = Action.objects.get()
    assert (action.kind, action.backend, action.target_type, action.target_id) == (
        Action.Kind.SUBMIT_PIPELINE,
        "local",
        "pipeline",
        "typed_inputs",
    )
    assert action.params == {
        "parameters": {"epochs": 7, "mode": "careful", "verbose": True, "label": "first try"},
        "experiment": "tests",
        "tags": {"team": "vision", "ticket": "ML-42"},
    }
    assert action.requested_by == operator and action.reason == "try a longer run"
    assert len(enqueued) == 1


def test_clearing_an_optional_input_sends_no_value_and_an_untouched_one_is_left_out(operator_client, typed):
    post(operator_client, typed, input_note="")

    assert Action.objects.get().params["parameters"] == {"label": "first try"}


def test_with_htmx_a_bad_value_swaps_only_the_form_with_its_error(operator_client, typed):
    response = operator_client.post(
        reverse("runs:pipeline_submit", args=[typed.pk]), {**VALID, "input_epochs": "500"}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps only a 2xx answer
    assert html.lstrip().startswith('<form id="submit-form"') and "<html" not in html
    assert "500 is above the maximum, 100." in field_html(html, "input_epochs")
    assert 'value="500"' in field_html(html, "input_epochs")  # what was typed is kept
    assert not Action.objects.exists()


def test_with_htmx_a_submission_answers_a_fresh_form_and_the_submissions_following_it(operator_client, typed):
    response = operator_client.post(
        reverse("runs:pipeline_submit", args=[typed.pk]), {**VALID, "input_epochs": "9"}, **HTMX
    )

    html = response.content.decode()
    action = Action.objects.get()
    assert f"Run requested (action #{action.pk})" in html
    assert 'value="3"' in field_html(html, "input_epochs")  # the defaults again
    submissions = re.search(r'<section id="pipeline-submissions".*?</section>', html, re.S).group(0)
    assert 'hx-swap-oob="true"' in submissions and 'hx-trigger="every 2s"' in submissions
    assert "Submitting…" in submissions and "epochs=9" in submissions


def test_the_submissions_poll_until_each_has_its_run_then_link_to_it(operator_client, operator, typed):
    action = factories.action(
        kind=Action.Kind.SUBMIT_PIPELINE, target=typed, user=operator, params={"parameters": {"epochs": 4}}
    )
    poll = {**HTMX, "HTTP_HX_TARGET": "pipeline-submissions"}

    pending = operator_client.get(typed.get_absolute_url(), **poll)
    assert pending.status_code == 200 and "Submitting…" in pending.content.decode()
    assert 'hx-trigger="every 2s"' in pending.content.decode()

    run = factories.run(pipeline=typed, external_id="keen_lamp_1")
    Action.objects.filter(pk=action.pk).update(
        status=Action.Status.SUCCEEDED, result="Submitted run keen_lamp_1.", outcome={"run": run.pk}
    )
    done = operator_client.get(typed.get_absolute_url(), **poll)

    html = done.content.decode()
    assert done.status_code == 286  # htmx stops polling
    assert "hx-trigger" not in html and "Submitted run keen_lamp_1." in html
    assert f'<a href="{run.get_absolute_url()}">open the run</a>' in html


def test_the_action_runs_the_pipeline_with_the_inputs_experiment_and_tags_given(operator_client, typed):
    post(operator_client, typed, input_epochs="5", experiment="sweeps", tags="team=vision")

    action = action_perform(Action.objects.get().pk)

    assert action.status == Action.Status.SUCCEEDED, action.error
    run = typed.runs.get(pk=action.outcome["run"])
    assert run.parameters["epochs"] == 5 and run.parameters["label"] == "first try"
    assert run.experiment_name == "sweeps" and run.submitted_by == "operator"
    assert run.tags == {"team": "vision"}
    assert action.result == f"Submitted run {run.external_id}."


def test_a_value_the_form_cannot_check_is_refused_by_the_backend_and_the_action_says_why(
    operator_client, typed
):
    # The form checks types and rules; that a pipeline still takes the input is the backend's to say.
    Pipeline.objects.filter(pk=typed.pk).update(inputs=[*typed.inputs, {"name": "gone", "type": "string"}])
    post(operator_client, Pipeline.objects.get(pk=typed.pk), input_gone="x")

    action = action_perform(Action.objects.get().pk)

    assert action.status == Action.Status.FAILED
    assert "inputs.gone: no such pipeline input" in action.error


def test_viewers_see_no_form_and_get_a_403_that_changes_nothing(viewer_client, stranger_client, typed):
    assert "Submit a run" not in viewer_client.get(typed.get_absolute_url()).content.decode()

    for client in (viewer_client, stranger_client):
        response = post(client, typed)
        assert response.status_code == 403 and "Nothing was changed" in response.content.decode()
    assert not Action.objects.exists()


def test_on_a_backend_that_cannot_start_its_pipelines_there_is_no_form_and_the_action_refuses(
    configure_backends, operator_client, operator
):
    configure_backends({"yaml-only": {"engine": "tests.fakes.YamlFilesOnlyBackend"}})
    pipeline = factories.pipeline(backend="yaml-only", external_id="remote")

    page = operator_client.get(pipeline.get_absolute_url()).content.decode()
    action = factories.action(kind=Action.Kind.SUBMIT_PIPELINE, target=pipeline, user=operator)

    assert "Submit a run" not in page
    assert action_perform(action.pk).error == (
        "backend yaml-only cannot start a run of a pipeline it holds; submit the pipeline's YAML instead "
        "(manage.py submit FILE --backend yaml-only)"
    )


def test_the_actions_page_names_the_kind_and_links_the_pipeline(viewer_client, operator, typed):
    factories.action(kind=Action.Kind.SUBMIT_PIPELINE, target=typed, user=operator)

    html = viewer_client.get(reverse("action_list")).content.decode()

    assert "Submit pipeline" in html and "Submitting…" in html
    assert f'<a href="{typed.get_absolute_url()}">Typed inputs</a>' in html
    assert "pipeline on local" in html and "no longer mirrored" not in html
