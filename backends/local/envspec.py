"""A job's ``environment`` as the local engine reads it: inline, from an environment file, or a registered name.

What can be built (a conda file, or a pip requirements file) is kept whole in the step's spec, so that a run
builds what was submitted even when the files change afterwards. Registered environments (``azureml:name@latest``,
``azureml:name:version``, the curated ``AzureML-...`` ones) and Docker images cannot be fetched here: they are
kept by name, unless the engine's settings map the name to a local conda or requirements file, which is then read
like an inline definition. Whether a definition can be built (conda-only packages, the Python version) is decided
when the step prepares (backends/local/conda.py), not here. Pure Python (no Django).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from backends import yamlfile
from backends.local.checked import BAD, REMOTE, File, SpecError, line_of, to_plain

# The keys of Azure ML's environment YAML schema (CLI v2).
ENVIRONMENT_KEYS = (
    "$schema",
    "name",
    "version",
    "description",
    "tags",
    "image",
    "conda_file",
    "build",
    "os_type",
    "inference_config",
)
CONDA_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
CONDA = "conda"
PIP = "pip"
IMAGE = "image"
REGISTERED = "registered"
BUILT_KINDS = (CONDA, PIP)
# azureml:name, azureml:name:version, azureml:name@label; the registry and ARM forms end in .../environments/...
_SHORT = re.compile(r"azureml:(?P<name>[^:@/]+)(?::(?P<version>[^:@/]+)|@(?P<label>[^:@/]+))?")
_LONG = re.compile(
    r".*/environments/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?/?"
)


@dataclass(frozen=True)
class EnvironmentSpec:
    kind: str  # conda | pip: a definition the engine builds; image | registered: one it cannot fetch
    name: str  # as the job names it: a registered name, an image, or the environment's name
    source: str = ""  # the file the definition was read from
    text: str = ""  # the definition as written: a conda file's YAML or a requirements file's lines
    image: str = ""
    mapped: str = ""  # the registered name the engine's settings map to this definition

    @property
    def builds(self) -> bool:
        return self.kind in BUILT_KINDS

    def describe(self) -> str:
        """Which definition, and where it was read, for a log or a command's output."""
        if self.mapped:
            return f"'{self.mapped}' (mapped to {self.source} in the engine's settings)"
        if not self.builds:
            return f"'{self.name}'"
        return f"'{self.name}' from {self.source}" if self.name else f"from {self.source}"

    def digest(self) -> str:
        """What identifies the definition: a step whose environment changed is not reused."""
        identity = self.text if self.builds else self.name
        return hashlib.sha256(f"{self.kind}\0{identity}".encode()).hexdigest()

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> EnvironmentSpec | None:
        return None if not data else cls(**data)


def digest(definition: dict | None) -> str:
    """The digest of a step's environment definition (as its spec holds it), or "" without one."""
    spec = EnvironmentSpec.from_dict(definition)
    return spec.digest() if spec else ""


def registered_names(reference: str) -> list[str]:
    """The names an engine setting may give a registered environment, most precise first:
    ``azureml:AzureML-sklearn-1.5@latest`` -> ``["AzureML-sklearn-1.5@latest", "AzureML-sklearn-1.5"]``."""
    match = _SHORT.fullmatch(reference) or _LONG.fullmatch(reference)
    if match is None:
        return [reference]
    name = match["name"]
    if match["version"]:
        return [f"{name}:{match['version']}", name]
    if match["label"]:
        return [f"{name}@{match['label']}", name]
    return [name]


def _looks_like_a_file(value: str) -> bool:
    return value.startswith(("file:", "./", "../", "/")) or value.endswith((".yml", ".yaml"))


def _dump(value: Any) -> str:
    out = io.StringIO()
    yaml = YAML()
    yaml.dump(to_plain(value), out)
    return out.getvalue()


class EnvironmentReading:
    """Mixed into the pipeline loader (backends/local/jobfile.py): reads a node's ``environment``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each environment or conda file is read once however many jobs use it, so its problems show once.
        self.environment_files: dict[Path, EnvironmentSpec | None] = {}

    def environment_definition(self, node: dict, prefix: str) -> dict | None:
        """The definition of ``node``'s ``environment`` as the step's spec keeps it; None without one."""
        value = node.get("environment")
        if value is None:
            return None
        where, line = f"{prefix}environment", line_of(node, "environment")
        if isinstance(value, dict):
            spec = self.inline_environment(value, f"{where}.", self.file.path.parent)
        elif isinstance(value, str) and value.strip():
            spec = self.environment_reference(value.strip(), where, line)
        else:
            self.problem(line, where, f"expected a name, a file or a mapping, got {to_plain(value)!r}")
            return None
        return spec.to_dict() if spec else None

    def environment_reference(self, value: str, where: str, line: int) -> EnvironmentSpec | None:
        local = value.removeprefix("file:")
        if REMOTE.match(local) or not _looks_like_a_file(value):
            return self.registered_environment(value, where, line)
        path = Path(os.path.normpath(self.file.path.parent / local))
        if not path.is_file():
            self.problem(line, where, f"environment file '{value}' not found ({path})")
            return None
        if path not in self.environment_files:
            self.environment_files[path] = None
            shown = os.path.normpath(os.path.join(os.path.dirname(self.file.shown), local))
            with self.reading(File(shown, path)) as (_, doc):
                if doc is BAD:
                    pass
                elif not isinstance(doc, dict):
                    self.problem(
                        line_of(doc), "(root)", "expected an environment mapping (image, conda_file)"
                    )
                else:
                    self.environment_files[path] = self.inline_environment(doc, "", path.parent)
        return self.environment_files[path]

    def registered_environment(self, value: str, where: str, line: int) -> EnvironmentSpec | None:
        settings = {name.removeprefix("azureml:"): path for name, path in self.config.environments.items()}
        mapped = next((settings[n] for n in registered_names(value) if n in settings), None)
        if mapped is None:
            return EnvironmentSpec(REGISTERED, value)
        path = Path(self.config.path(mapped))
        if "://" in mapped or not path.is_file():
            self.problem(
                line,
                where,
                f"'{value}' is mapped to '{mapped}' in the engine's settings (environments:), "
                f"which is not a file on this machine ({path})",
            )
            return None
        spec = self.definition_file(File(mapped, path))
        if spec is None:
            return None
        if spec.kind == IMAGE:
            return EnvironmentSpec(REGISTERED, value)
        return EnvironmentSpec(spec.kind, value, spec.source, spec.text, spec.image, mapped=value)

    def inline_environment(self, node: dict, prefix: str, base: Path) -> EnvironmentSpec | None:
        self.unknown_keys(node, ENVIRONMENT_KEYS, prefix)
        name = self.text(node, "name", "", prefix)
        image = self.text(node, "image", "", prefix)
        conda = node.get("conda_file")
        if conda is None:
            if not image and node.get("build") is None:
                self.problem(
                    line_of(node),
                    prefix.rstrip(".") or "(root)",
                    "expected an image, a build or a conda_file",
                )
                return None
            return EnvironmentSpec(
                IMAGE, image or name or "a Docker build context", self.file.shown, image=image
            )
        where = f"{prefix}conda_file"
        if isinstance(conda, dict):  # the conda file written inline
            if not self.conda_document(conda, where + "."):
                return None
            return EnvironmentSpec(
                CONDA, name or self.text(conda, "name", ""), self.file.shown, _dump(conda), image
            )
        if not isinstance(conda, str) or REMOTE.match(conda.removeprefix("file:")):
            self.problem(line_of(node, "conda_file"), where, "expected a local file or a conda mapping")
            return None
        local = conda.removeprefix("file:")
        path = Path(os.path.normpath(base / local))
        if not path.is_file():
            self.problem(line_of(node, "conda_file"), where, f"conda file '{conda}' not found ({path})")
            return None
        shown = os.path.normpath(os.path.join(os.path.dirname(self.file.shown), local))
        spec = self.definition_file(File(shown, path))
        if spec is None:
            return None
        return EnvironmentSpec(spec.kind, name or spec.name, spec.source, spec.text, image)

    def definition_file(self, file: File) -> EnvironmentSpec | None:
        """A conda file, a pip requirements file (``*.txt``), or (from the engine's settings) an environment file."""
        if file.path.suffix == ".txt":
            try:
                text = yamlfile.read_text(file.path, file.shown, self.budget)
            except yamlfile.YamlRefused as refused:
                raise SpecError.refusing(refused) from None
            return EnvironmentSpec(PIP, "", file.shown, text)
        with self.reading(file) as (text, doc):
            if doc is BAD:
                return None
            if not isinstance(doc, dict):
                self.problem(line_of(doc), "(root)", "expected a conda environment mapping (dependencies)")
                return None
            if "dependencies" not in doc and any(k in doc for k in ("image", "conda_file", "build")):
                return self.inline_environment(doc, "", file.path.parent)  # an environment file
            if not self.conda_document(doc, ""):
                return None
            return EnvironmentSpec(CONDA, self.text(doc, "name", ""), file.shown, text)

    def conda_document(self, doc: dict, prefix: str) -> bool:
        """Checks a conda file's shape (its packages are checked when the step prepares); False on a problem."""
        before = len(self.problems)
        self.unknown_keys(doc, CONDA_KEYS, prefix)
        for key in ("channels", "dependencies"):
            if doc.get(key) is not None and not isinstance(doc[key], list):
                self.problem(line_of(doc, key), f"{prefix}{key}", "expected a list")
        for index, item in enumerate(doc.get("dependencies") or []):
            where = f"{prefix}dependencies[{index}]"
            line = doc["dependencies"].lc.item(index)[0] + 1 if hasattr(doc["dependencies"], "lc") else 1
            if isinstance(item, dict):
                pip = item.get("pip")
                if (
                    set(item) != {"pip"}
                    or not isinstance(pip, list)
                    or not all(isinstance(p, str) for p in pip)
                ):
                    self.problem(line, where, "expected a package, or 'pip:' with a list of pip requirements")
            elif not isinstance(item, str) or not item.strip():
                self.problem(line, where, f"expected a package, got {to_plain(item)!r}")
        return len(self.problems) == before
