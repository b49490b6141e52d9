"""The steps table: every step by dependency depth, its status, logs and a fold with its inputs and outputs."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from backends.base import RunStatus
from runs.graph.status import CLASS_OF, status_html
from runs.graph.structure import Structure
from runs.graph.svg import StepLinks
from runs.templatetags.runboard import duration

if TYPE_CHECKING:
    from runs.graph.steps import StepRow


def input_sources(structure: Structure) -> dict[str, dict[str, list[str]]]:
    """{step: {input: ["source.output", ...]}}: where each step's inputs come from."""
    sources: dict[str, dict[str, list[str]]] = {}
    for source, output, target, input_ in structure.edges:
        sources.setdefault(target, {}).setdefault(input_, []).append(f"{source}.{output}")
    return sources


def render_outline(structure: Structure, steps: Mapping[str, StepRow], step_url: StepLinks) -> SafeString:
    """The rows of the steps table: every step by dependency depth, its status, logs and a details fold."""
    sources = input_sources(structure)
    zone = timezone.get_current_timezone()  # the viewer's, from their cookie
    names: dict[str, str] = {}  # input, output and log names repeat from step to step: escape each once

    def name_of(text: str) -> str:
        escaped = names.get(text)
        if escaped is None:
            escaped = names[text] = escape(text)
        return escaped

    rows = []
    for node, depth in structure.outline:
        step = steps[node]
        e_node = escape(node)
        alias = ""
        if step.display_name and step.display_name != node:
            alias = f' <span class="sub mono">{e_node}</span>'
        error = ""
        if step.error:
            cls = "sub error" if step.status == RunStatus.FAILED else "sub"
            error = f'<div class="{cls}">{escape(step.error)}</div>'
        wired = sources.get(node, {})
        facts = ["<dt>Inputs</dt><dd>"]
        for input_name in dict.fromkeys([*step.inputs, *wired]):
            value = step.inputs.get(input_name)
            facts.append(f'<div><span class="mono">{name_of(input_name)}</span>')
            if value is not None:
                facts.append(f' = <span class="mono">{escape(str(value))}</span>')
            if input_name in wired:
                facts.append(f' <span class="sub">from {escape(", ".join(wired[input_name]))}</span>')
            facts.append("</div>")
        if len(facts) == 1:
            facts.append('<span class="sub">none</span>')
        facts.append("</dd><dt>Outputs</dt><dd>")
        for output, location in step.outputs.items():
            shown = name_of(output)
            if step_url.files:
                shown = f'<a href="{step_url.output(step, output)}">{shown}</a>'
            facts.append(
                f'<div><span class="mono">{shown}</span> '
                f'<span class="mono outline-location">{escape(str(location))}</span></div>'
            )
        if not step.outputs:
            facts.append(
                '<span class="sub">none</span>'
                if step.started_at
                else '<span class="sub">known once it starts</span>'
            )
        facts.append("</dd>")
        if step.command:
            facts.append(
                f'<dt>Command</dt><dd><pre class="outline-command">{escape(step.command)}</pre></dd>'
            )
        if step.snapshot:
            digest = escape(step.snapshot[:12])
            snapshot = (
                f'<a href="{step_url.snapshot(step)}" title="{escape(step.snapshot)}">{digest}</a>'
                if step_url.files
                else digest
            )
            facts.append(f'<dt>Code snapshot</dt><dd class="mono">{snapshot}</dd>')
        if step.environment:
            facts.append(f'<dt>Environment</dt><dd class="mono">{escape(step.environment)}</dd>')
        if step.compute:
            facts.append(f'<dt>Compute</dt><dd class="mono">{escape(step.compute)}</dd>')
        studio = (
            f' · <a href="{escape(step.external_url)}" rel="noopener" target="_blank">open in Azure ML Studio</a>'
            if step.external_url
            else ""
        )
        facts.append(
            f'<dt>Step run</dt><dd><span class="mono">{escape(step.external_id)}</span>{studio}</dd>'
        )
        reuse = "—"
        if step.is_reused:
            reuse = (
                f'<span class="badge idle" title="step {escape(step.reused_step_id)}">reused</span> '
                f'<span class="sub mono">from {escape(step.reused_run_id)}</span>'
            )
        # URLs are made of percent-quoted parts: nothing in them needs escaping.
        log_links = step_url.logs(step)
        logs = " · ".join(f'<a href="{url}">{name_of(n)}</a>' for n, url in log_links)
        href = log_links[0][1] if log_links else step_url(step)
        started = step.started_at.astimezone(zone).strftime("%H:%M:%S") if step.started_at else "—"
        rows.append(
            f'<tr id="step-{e_node}" class="step">'
            f'<td><span class="badge {CLASS_OF.get(step.status, "idle")}">{status_html(step.status)}</span></td>'
            f'<td class="outline-name outline-d{min(depth, 10)}" data-depth="{depth}">'
            f'<a href="{href}">{escape(step.display_name or node)}</a>{alias}{error}'
            f'<details class="outline-details" id="details-{e_node}"><summary>Inputs and outputs</summary>'
            f'<dl class="outline-io">{"".join(facts)}</dl></details></td>'
            f"<td>{started}</td>"
            f'<td class="num">{duration(step.duration)}</td>'
            f"<td>{'—' if step.exit_code is None else step.exit_code}</td><td>{reuse}</td>"
            f'<td class="outline-logs">{logs}</td></tr>'
        )
    return mark_safe("".join(rows))  # every value above is escaped
