"""Where a data input points, as the local engine reads it: a local path, an http(s) URL it downloads when the
step starts (backends/local/staging.py), or an Azure ML reference it resolves through its own settings:

- ``azureml://datastores/<name>/paths/<path>`` (or the long form with subscriptions/.../workspaces/...) reads
  ``<folder or URL>/<path>`` from ``datastores: {<name>: folder or URL}``; a folder is read in place, no copy.
- ``azureml:<name>:<version>``, ``azureml:<name>@<label>`` and asset ids ending ``/data/<name>/versions/<v>`` read
  ``data_assets: {"<name>:<version>": path or URL}``; ``@latest`` falls back to the highest version mapped.
- ``wasbs://<container>@<account>.blob.core.windows.net/<path>`` (and ``wasbs://<account>.blob.../<container>/...``)
  is the blob's https URL: read anonymously, or with a SAS query string the URL carries.

A URL is one file: there is no listing, so a ``uri_folder`` URL is a folder holding that one file. Everything is
resolved when the file is loaded, so an unmapped name is a problem at validate, not a failed step.
Pure Python (no Django).
"""

from __future__ import annotations

import os
import re
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from backends.local.checked import line_of, plain
from backends.local.config import EngineConfig

# The types a URL can stand for: one file, or a folder holding it. Model folders need a listing to download.
URL_TYPES = ("uri_file", "uri_folder")
# Azure ML's delivery modes. The local engine gives every one a local path: a mount and a download look alike.
INPUT_MODES = ("ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download")
OUTPUT_MODES = ("rw_mount", "upload", "direct")

_DATASTORE = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/(?:providers/microsoft\.machinelearningservices/)?"
    r"workspaces/[^/]+/)?datastores/(?P<name>[^/]+)/paths/(?P<path>.*)$",
    re.IGNORECASE,
)
_ASSET = re.compile(
    r"^azureml:(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>[A-Za-z0-9_.-]+)|@(?P<label>[A-Za-z0-9_.-]+))$"
)
_ASSET_ID = re.compile(r"^azureml:/{1,2}.*/data/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$", re.IGNORECASE)
_WASBS = re.compile(r"^wasbs?://(?:(?P<container>[^@/]+)@)?(?P<host>[^/@]+)(?P<path>/.*)?$", re.IGNORECASE)
_BLOB_HOST = re.compile(r"\.(?:blob|dfs)\.core\.(?:windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$")
# Query parameters that change which bytes a blob URL gives; the rest of a blob URL's query is its SAS.
_BLOB_CONTENT_PARAMS = ("snapshot", "versionid")
SETTING_HOME = "the local engine's entry in the backends file (RUNBOARD_BACKENDS)"
FORMS = "azureml://datastores/<name>/paths/<path>, azureml:<name>:<version> or azureml:<name>@latest"


class Unresolved(ValueError):
    """A reference the local engine cannot read; the message says why and what to change."""


class Reporter(Protocol):
    config: EngineConfig

    def problem(self, line: int, where: str, message: str) -> None: ...


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


def is_blob(url: str) -> bool:
    return bool(_BLOB_HOST.search(urlsplit(url).hostname or ""))


def shown(url: str) -> str:
    """``url`` fit to print: a SAS signature is a credential, so its value is left out."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(
        f"{k}=REDACTED" if k.lower() == "sig" else f"{k}={v}" if sep else k
        for k, sep, v in (p.partition("=") for p in parts.query.split("&"))
    )
    return urlunsplit(parts._replace(query=query))


def cache_key(url: str) -> str:
    """What names the bytes ``url`` gives: a blob's SAS changes as it expires, not the blob it reads."""
    parts = urlsplit(url)
    if not is_blob(url):
        return urlunsplit(parts._replace(fragment=""))
    kept = [p for p in parts.query.split("&") if p.partition("=")[0].lower() in _BLOB_CONTENT_PARAMS]
    return urlunsplit(parts._replace(query="&".join(kept), fragment=""))


def locate(value: str, type_: str, config: EngineConfig) -> str:
    """A non-local input value as what the engine reads: an http(s) URL, or an absolute local path.

    Raises Unresolved naming the reference and, for an unmapped name, the setting to add.
    """
    lowered = value.lower()
    if lowered.startswith("azureml:"):
        location = _azureml(value, config)
    elif lowered.startswith(("wasbs://", "wasb://")):
        location = blob_url(value)
    elif is_url(value):
        location = value
    else:
        raise Unresolved(
            f"{value!r} is not a path the local engine can read: it reads local paths, http(s) and wasbs:// "
            f"URLs, and {FORMS}"
        )
    if is_url(location):
        if type_ not in URL_TYPES:
            raise Unresolved(
                f"{value!r}: a {type_} cannot be downloaded from a URL by the local engine (only "
                "uri_file and uri_folder can, one file each); map it to a local folder"
            )
        if urlsplit(location).path.endswith("/") or not urlsplit(location).path.strip("/"):
            raise Unresolved(
                f"{value!r} names a folder, and a URL gives no listing: the local engine downloads one file, "
                "so give the file's URL (a uri_folder then holds that file), or map the datastore to a local "
                "folder"
            )
    return location


def blob_url(value: str) -> str:
    """``wasbs://container@account.blob.core.windows.net/path`` as the https URL Azure Storage serves it at."""
    match = _WASBS.match(value)
    if match is None or not match["host"]:
        raise Unresolved(
            f"{value!r} is not a blob URL; expected wasbs://<container>@<account>.blob.core.windows.net/<path>"
        )
    path = match["path"] or "/"
    if match["container"]:
        path = f"/{match['container']}{path}"
    return f"https://{match['host']}{path}"


def _azureml(value: str, config: EngineConfig) -> str:
    if match := _DATASTORE.match(value):
        return _datastore_path(value, match["name"], match["path"], config)
    if match := _ASSET.match(value) or _ASSET_ID.match(value):
        groups = match.groupdict()
        return _asset(value, match["name"], groups.get("version"), groups.get("label"), config)
    if match := re.fullmatch(r"azureml:([A-Za-z0-9_.-]+)", value):
        raise Unresolved(
            f"{value!r}: a data asset needs a version or a label: azureml:{match[1]}:<version> or "
            f"azureml:{match[1]}@latest"
        )
    raise Unresolved(f"{value!r} is not an Azure ML data reference the local engine reads; use {FORMS}")


def _datastore_path(value: str, name: str, path: str, config: EngineConfig) -> str:
    target = config.datastores.get(name)
    if target is None:
        raise Unresolved(
            f"{value!r}: datastore '{name}' is not mapped to a local folder or URL; add "
            f"`datastores: {{{name}: /path/or/URL}}` to {SETTING_HOME}"
        )
    return _under(value, config.path(target), path)


def _under(value: str, base: str, path: str) -> str:
    """``path`` inside a datastore's folder or URL, never outside it."""
    if base.lower().startswith(("wasbs://", "wasb://")):
        base = blob_url(base)
    if is_url(base):
        parts = urlsplit(base)
        joined = parts.path.rstrip("/") + "/" + quote(path.lstrip("/"), safe="/:@!$&'()*+,;=-._~")
        if ".." in joined.split("/"):
            raise Unresolved(f"{value!r}: a datastore path may not climb out of its datastore ('..')")
        return urlunsplit(parts._replace(path=joined))
    joined = os.path.normpath(os.path.join(base, path.lstrip("/")))
    if os.path.commonpath([base, joined]) != base:
        raise Unresolved(f"{value!r}: a datastore path may not climb out of its datastore ({base})")
    return joined


def _asset(value: str, name: str, version: str | None, label: str | None, config: EngineConfig) -> str:
    key = f"{name}:{version}" if version else f"{name}@{label}"
    target = config.data_assets.get(key)
    if target is None and label == "latest":
        versions = [k.partition(":")[2] for k in config.data_assets if k.startswith(f"{name}:")]
        if versions:
            target = config.data_assets[f"{name}:{max(versions, key=_version_order)}"]
    if target is None:
        what = f"version '{version}'" if version else f"label '{label}'"
        raise Unresolved(
            f"{value!r}: data asset '{name}' {what} is not mapped to a path or URL; add "
            f'`data_assets: {{"{key}": /path/or/URL}}` to {SETTING_HOME}'
        )
    if match := _DATASTORE.match(target):  # an asset may be a path on a mapped datastore, as in Azure ML
        return _datastore_path(value, match["name"], match["path"], config)
    if target.lower().startswith(("wasbs://", "wasb://")):
        return blob_url(target)
    return config.path(target)


def _version_order(version: str) -> tuple:
    # Numbers by value (10 after 9), then anything else by its text.
    return (0, int(version), "") if version.isdigit() else (1, 0, version)


# --- what the pipeline loader calls --------------------------------------------------------------


def check_location(loader: Reporter, line: int, where: str, type_: str, raw: str) -> str | None:
    """``raw``, a reference that is not a local path, as a URL or a checked local path; None when reported."""
    try:
        location = locate(raw, type_, loader.config)
    except Unresolved as error:
        loader.problem(line, where, str(error))
        return None
    if is_url(location):
        return location
    if problem := local_problem(location, type_):
        loader.problem(line, where, f"{raw!r} {problem}")
        return None
    return location


def local_problem(path: str, type_: str) -> str | None:
    """Why the local ``path`` cannot be a ``type_`` input, or None."""
    if not os.path.exists(path):
        return f"does not exist ({path})"
    other_kind = {"uri_file": os.path.isdir, "uri_folder": os.path.isfile}.get(type_)
    if other_kind and other_kind(path):
        return f"is not a {type_[4:]}, as a {type_} needs ({path})"
    return None


def check_mode(loader: Reporter, decl: dict, where: str) -> None:
    """An input's or output's ``mode``: one Azure ML accepts on that side, or a problem naming those.

    ``where`` is the field (``jobs.a.inputs.x``, ``outputs.y``): its next-to-last part says which side it is on.
    """
    mode = plain(decl.get("mode"))
    side = "input" if where.split(".")[-2:-1] == ["inputs"] else "output"
    accepted = INPUT_MODES if side == "input" else OUTPUT_MODES
    if mode is None or mode in accepted:
        return
    message = f"unknown {side} mode {mode!r} (one of {', '.join(accepted)})"
    loader.problem(line_of(decl, "mode"), f"{where}.mode", message)


# --- what the run page shows -----------------------------------------------------------------------


def shown_inputs(spec: dict, node: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """A step's inputs as the run page shows them: a downloaded one as its URL → its copy in the cache.

    ``spec`` is the run's PipelineSpec as stored (a dict); ``inputs`` the step's values as it ran.
    """
    bindings = spec.get("jobs", {}).get(node, {}).get("inputs", {})
    shown_ = dict(inputs)
    for name, binding in bindings.items():
        value = binding.get("value")
        if binding.get("kind") == "pipeline_input":
            value = spec.get("inputs", {}).get(binding.get("source"), {}).get("default")
        if binding.get("type") in URL_TYPES and is_url(value) and inputs.get(name) not in (None, value):
            shown_[name] = f"{shown(value)} → {inputs[name]}"
    return shown_
