"""What the local engine installs for an environment definition: pip requirements on the worker's own Python.

There is no conda here. A conda file's ``dependencies`` are read as pip requirements where PyPI has the package
(numpy, pandas, scikit-learn... have the same names there, a few are renamed), its ``pip:`` section as it is, and
its ``channels`` are not used. A package only conda provides (system libraries, CUDA, MKL, R), or a spec only conda
understands (a build string, ``|``, ``[key=value]``), refuses the environment naming the package, as does a
``python`` version other than the worker's: no interpreter is downloaded. Pure Python (no Django).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from backends import yamlfile
from backends.local.checked import to_plain
from backends.local.envspec import CONDA, EnvironmentSpec

# Conda packages that are system libraries, compilers or toolchains rather than Python packages: pip cannot
# install them, and a Python package that needs one brings its own copy in its wheel.
CONDA_ONLY = frozenset(
    """
    _libgcc_mutex _openmp_mutex anaconda blas bzip2 ca-certificates conda conda-build cudatoolkit cudnn
    cuda-cudart cuda-nvcc cuda-toolkit gcc gcc_linux-64 gfortran gxx gxx_linux-64 intel-openmp ld_impl_linux-64
    libblas libcblas libffi libgcc libgcc-ng libgfortran libgfortran-ng libgomp liblapack libopenblas libstdcxx-ng
    libuuid libzlib make mkl mkl-service mkl_fft mkl_random nccl ncurses openblas openssl pytorch-cuda
    pytorch-mutex r-base readline sqlite tk xz zlib
    """.split()
)
# Conda packages whose PyPI name differs.
PYPI_NAMES = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "python-graphviz": "graphviz",
    "pytables": "tables",
}
_SPEC = re.compile(r"(?:(?P<channel>[^\s:]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)(?P<rest>.*)", re.S)
_OPERATOR = re.compile(r"(===|==|!=|~=|>=|<=|>|<)?\s*(.*)")


class Refused(ValueError):
    """The definition cannot be built here; the message names what and why."""


@dataclass(frozen=True)
class Plan:
    interpreter: str  # the Python the environment is made from
    python: str  # its version
    requirements: tuple[str, ...]  # pip requirement lines, in the definition's order
    notes: tuple[str, ...] = ()  # what is read differently from conda, for the step's system log

    @property
    def key(self) -> str:
        """The environment's name in the cache: equal requirements on the same Python share one environment."""
        described = {
            "interpreter": os.path.realpath(self.interpreter),
            "python": self.python,
            "requirements": list(self.requirements),
        }
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def plan(spec: EnvironmentSpec, interpreter: str | None = None, python: str | None = None) -> Plan:
    """The pip requirements ``spec`` asks for, on ``interpreter`` (the worker's Python when None).

    Raises Refused naming every package or version that cannot be provided.
    """
    interpreter = interpreter or sys.executable
    python = python or platform.python_version()
    if spec.kind == CONDA:
        requirements, notes = _from_conda(spec, python)
    else:
        requirements, notes = [_line(raw) for raw in spec.text.splitlines()], []
        requirements = [r for r in requirements if r]
    if not any(_name(r) == "pip" for r in requirements):
        # Commands often run `pip install` or `python -m pip`: each environment has its own pip, as conda's do.
        requirements.insert(0, "pip")
    return Plan(interpreter, python, tuple(requirements), tuple(notes))


def _line(raw: str) -> str:
    """A requirements line without its comment."""
    line = raw.strip()
    return "" if line.startswith("#") else re.split(r"\s+#", line, maxsplit=1)[0].strip()


def _name(requirement: str) -> str:
    try:
        return Requirement(requirement).name.lower()
    except InvalidRequirement:
        return ""


def _from_conda(spec: EnvironmentSpec, python: str) -> tuple[list[str], list[str]]:
    doc = to_plain(yamlfile.parse(spec.text, spec.source or "conda file", yamlfile.Budget()))
    doc = doc if isinstance(doc, dict) else {}
    requirements: list[str] = []
    notes: list[str] = []
    refusals: list[str] = []
    if doc.get("channels"):
        channels = ", ".join(map(str, doc["channels"]))
        notes.append(f"Conda channels ({channels}) are not used: packages come from PyPI.")
    for item in doc.get("dependencies") or []:
        if isinstance(item, dict):  # the pip: section, as pip reads it
            requirements.extend(line for raw in item.get("pip") or [] if (line := _line(str(raw))))
            continue
        dependency = str(item).strip()
        try:
            requirement = _conda_requirement(dependency, notes)
        except Refused as refusal:
            refusals.append(f"conda package '{dependency}' {refusal}")
            continue
        if _name(requirement) == "python":
            if problem := _python_problem(dependency, requirement, python):
                refusals.append(problem)
        else:
            requirements.append(requirement)
    if refusals:
        raise Refused("; ".join(refusals))
    return requirements, notes


def _conda_requirement(dependency: str, notes: list[str]) -> str:
    """A conda match spec (``numpy=1.21``, ``scipy >=1.7``, ``conda-forge::pandas``) as a pip requirement."""
    match = _SPEC.fullmatch(dependency)
    if match is None:
        raise Refused("is not a conda package spec")
    name, rest = match["name"], match["rest"].strip()
    if name.lower() in CONDA_ONLY or name.lower().startswith("r-"):
        raise Refused("has no pip equivalent (only conda provides it)")
    if match["channel"]:
        notes.append(f"'{dependency}': the channel '{match['channel']}' is not used; {name} comes from PyPI.")
    version = _conda_version(rest)
    pypi = PYPI_NAMES.get(name.lower(), name)
    if pypi != name:
        notes.append(f"'{dependency}' is installed as '{pypi}', its name on PyPI.")
    requirement = f"{pypi}{version}"
    try:
        Requirement(requirement)
    except InvalidRequirement:
        raise Refused(f"has a version pip does not understand ({rest})") from None
    return requirement


def _conda_version(rest: str) -> str:
    """Conda's version part as pip's: ``=1.21`` means 1.21.*, a bare ``1.21.2`` (after a space) means ==1.21.2."""
    if not rest:
        return ""
    if "[" in rest or "|" in rest:
        raise Refused("uses conda-only syntax ('[key=value]' or '|'), which pip does not read")
    if rest.startswith("=") and not rest.startswith("=="):
        version, *build = rest[1:].split("=")
        if build:
            raise Refused("has a build string, which only conda understands")
        return "==" + _fuzzy(version.strip())
    rest = re.sub(r"\s*(,|[<>=!~]+)\s*", r"\1", rest)
    if len(rest.split()) > 1:  # numpy 1.21 py38_0: a version, then a build
        raise Refused("has a build string, which only conda understands")
    parts = []
    for part in rest.split(","):
        operator, version = _OPERATOR.fullmatch(part).groups()  # type: ignore[union-attr]
        if "=" in version:
            raise Refused("has a build string, which only conda understands")
        if operator is None:  # a bare version: exact, or fuzzy with a trailing *
            operator, version = "==", (_fuzzy(version) if version.endswith("*") else version)
        parts.append(f"{operator}{version}")
    return ",".join(parts)


def _fuzzy(version: str) -> str:
    version = version.rstrip("*").rstrip(".")
    return f"{version}.*"


def _python_problem(dependency: str, requirement: str, python: str) -> str:
    if Requirement(requirement).specifier.contains(python, prereleases=True):
        return ""
    return (
        f"'{dependency}' cannot be provided: environments are built on the worker's Python {python}, and the "
        f"local engine downloads no other interpreter (ask for python={python.rsplit('.', 1)[0]}, or leave "
        "python out)"
    )
