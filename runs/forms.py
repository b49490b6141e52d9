from django import forms

from runs.models import PublishedPipeline


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
