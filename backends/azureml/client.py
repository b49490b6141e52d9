"""How the adapter reaches a workspace: one credential and one transport for MLClient (ARM) and for the
workspace's data-plane services (run history, the v1 pipelines service), found through its discovery document;
and how what goes wrong there becomes the contract's errors."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import azure.ai.ml  # noqa: F401 - for the logger it configures on import (see below)
from azure.core import PipelineClient
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    NetworkTraceLoggingPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest, HttpResponse

from backends.azureml.options import Options
from backends.azureml.replay import Recording, UnansweredRequest
from backends.base import BackendError, BackendUnavailable, NotFound

# On import, azure-ai-ml gives its logger a handler of its own at INFO ("experimental class" notices for every
# job it reads, "no tenant id" for every job URL). Its errors still show.
logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)

ARM_SCOPE = "https://management.azure.com/.default"
USER_AGENT = "runboard"
TRANSIENT = {408, 429, 500, 502, 503, 504}


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.replayed"


class ReplayedCredential:
    """The credential of a replayed workspace: tokens nobody checks, since no request leaves the machine. They
    are shaped as JWTs for the scope asked for, as the SDK reads the tenant and audience from the token."""

    CLAIMS = {
        "oid": "00000000-0000-0000-0000-000000000001",
        "tid": "00000000-0000-0000-0000-000000000000",
        "upn": "replay@runboard.invalid",
        "name": "Runboard replay",
    }

    def _token(self, scopes: tuple[str, ...]) -> str:
        audience = scopes[0].removesuffix("/.default") if scopes else ""
        return _unsigned_jwt({**self.CLAIMS, "aud": audience})

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token(scopes), int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token(scopes), int(time.time()) + 3600)


def make_credential(options: Options) -> Any:
    if options.recording:
        return ReplayedCredential()
    import azure.identity as identity

    client_id = options.managed_identity_client_id or None
    return {
        "default": lambda: identity.DefaultAzureCredential(managed_identity_client_id=client_id),
        "environment": identity.EnvironmentCredential,
        "managed_identity": lambda: identity.ManagedIdentityCredential(client_id=client_id),
        "azure_cli": identity.AzureCliCredential,
        "workload_identity": identity.WorkloadIdentityCredential,
    }[options.credential]()


class Workspace:
    """The clients of one workspace, made on first use and shared by every thread of a process."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.recording = (
            Recording.load(options.recording, options.recording_log) if options.recording else None
        )
        self._lock = threading.Lock()
        self._discovery: dict[str, str] | None = None

    @cached_property
    def credential(self) -> Any:
        return make_credential(self.options)

    @cached_property
    def transport(self) -> RequestsTransport:
        if self.recording is not None:
            return self.recording.transport()
        return RequestsTransport(connection_timeout=10, read_timeout=self.options.timeout)

    @cached_property
    def ml_client(self) -> Any:
        from azure.ai.ml import MLClient

        return MLClient(
            self.credential,
            self.options.subscription_id,
            self.options.resource_group,
            self.options.workspace_name,
            transport=self.transport,
            retry_total=0,  # retries are the caller's, with backoff, Retry-After honoured
            user_agent=USER_AGENT,
            show_progress=False,
            enable_telemetry=False,
        )

    def _client(self, base_url: str, *, signed: bool) -> PipelineClient:
        policies: list[Any] = [HeadersPolicy(), UserAgentPolicy(user_agent=USER_AGENT)]
        if signed:
            policies.append(BearerTokenCredentialPolicy(self.credential, ARM_SCOPE))
        policies += [RetryPolicy(retry_total=0), NetworkTraceLoggingPolicy()]
        return PipelineClient(base_url=base_url, policies=policies, transport=self.transport)

    @cached_property
    def anonymous(self) -> PipelineClient:
        """For URLs that carry their own signature (log blobs) and the discovery document."""
        return self._client("https://localhost", signed=False)

    def discovery(self) -> dict[str, str]:
        """The workspace's service endpoints (run history, pipelines), read once from its discovery URL."""
        with self._lock:
            if self._discovery is None:
                workspace = self.ml_client.workspaces.get(self.options.workspace_name)
                response = self.send(self.anonymous, HttpRequest("GET", workspace.discovery_url))
                self._discovery = {k: str(v).rstrip("/") for k, v in response.json().items()}
            return self._discovery

    @cached_property
    def history(self) -> PipelineClient:
        base = self.discovery().get("api") or self.discovery()["history"]
        return self._client(f"{base}/history/v1.0{self.options.workspace_path}", signed=True)

    @cached_property
    def pipelines(self) -> PipelineClient:
        base = self.discovery().get("pipelines") or self.discovery()["api"]
        return self._client(f"{base}/pipelines/v1.0{self.options.workspace_path}", signed=True)

    def send(
        self,
        client: PipelineClient,
        request: HttpRequest,
        *,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
    ) -> HttpResponse:
        """Send and raise an AzureError for a status outside ``ok``. The answer is read unless ``stream``."""
        response = client.send_request(request, stream=stream)
        if not stream or response.status_code not in ok:
            response.read()
        if response.status_code not in ok:
            error = {401: ClientAuthenticationError, 404: ResourceNotFoundError}.get(
                response.status_code, HttpResponseError
            )
            raise error(response=response)
        return response

    def get_json(self, client: PipelineClient, path: str, **params: Any) -> Any:
        return self.send(client, HttpRequest("GET", _url(client, path), params=params)).json()

    def post_json(self, client: PipelineClient, path: str, body: Any) -> Any:
        return self.send(client, HttpRequest("POST", _url(client, path), json=body)).json()

    def put_json(self, client: PipelineClient, path: str, body: Any) -> Any:
        response = self.send(client, HttpRequest("PUT", _url(client, path), json=body), ok=(200, 201, 204))
        return response.json() if response.content else None


def _url(client: PipelineClient, path: str) -> str:
    return client._base_url.rstrip("/") + path


# --- errors --------------------------------------------------------------------------------


def _service_message(exc: HttpResponseError) -> str:
    """The service's own words: ARM's and run history's {"error": {"code", "message"}}."""
    response = exc.response
    if response is not None:
        try:
            body = response.json()
        except (ValueError, AttributeError, TypeError):
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("message"):
            code = error.get("code")
            text = str(error["message"]).strip()
            return f"({code}) {text}" if code else text
    return (exc.message or str(exc)).strip().splitlines()[0] if (exc.message or str(exc)).strip() else ""


def _retry_after(exc: HttpResponseError) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if raw and re.fullmatch(r"\d+(\.\d+)?", raw.strip()):
        return float(raw)
    ms = headers.get("retry-after-ms") or headers.get("x-ms-retry-after-ms")
    return float(ms) / 1000 if ms and ms.strip().isdigit() else None


def translate(exc: Exception, where: str) -> Exception:
    """The contract's error for what went wrong talking to Azure ML, with the service's message."""
    if isinstance(exc, UnansweredRequest):
        return BackendError(f"{where}: {exc}")
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) in (None, 401):
        detail = _service_message(exc) if exc.response is not None else str(exc).strip().splitlines()[0]
        return BackendError(
            f"{where}: authentication failed: {detail.rstrip('.')}. Sign in (az login), or set the service principal's "
            "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or give the host a managed identity"
        )
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        message = _service_message(exc)
        if status == 403:
            return BackendError(
                f"{where}: access denied: {message.rstrip('.')}. Give the identity a role on the workspace "
                "(AzureML Data Scientist reads and cancels; Contributor also changes schedules)"
            )
        if status == 404:
            return NotFound(f"{where}: not found: {message}")
        if status in TRANSIENT:
            return BackendUnavailable(f"{where}: HTTP {status}: {message}", retry_after=_retry_after(exc))
        return BackendError(f"{where}: HTTP {status}: {message}")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return BackendUnavailable(f"{where}: cannot reach Azure ML: {_first_line(exc)}")
    if isinstance(exc, AzureError):
        return BackendError(f"{where}: {_first_line(exc)}")
    return exc


def _ml_message(exc: Exception) -> str:
    """azure-ai-ml's validation errors hold JSON ({"errors": [{"message", "path"}]}), alone or amid advice:
    their messages, joined on one line, each cut short (a schema error can run to a page)."""
    text = str(getattr(exc, "message", "") or exc).strip()
    try:
        found = json.loads(text[text.index("{") : text.rindex("}") + 1])
    except ValueError:
        found = None
    errors = found.get("errors") if isinstance(found, dict) else None
    if isinstance(errors, list) and errors:
        text = "; ".join(
            f"{e.get('path', '')}: {_shortened(str(e.get('message', '')))}".strip(": ")
            for e in errors
            if isinstance(e, dict)
        )
    return " ".join(text.split()) or type(exc).__name__


def _shortened(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def calls(where: str) -> Iterator[None]:
    """Turn any Azure error inside into the contract's error, naming what was being done."""
    try:
        yield
    except Exception as exc:
        from azure.ai.ml.exceptions import MlException
        from marshmallow import ValidationError

        # The SDK's own checks of what it is given, whose words are JSON: MlException (an AzureError, whose
        # first line is a lone "{"), and marshmallow's error, which its schema checks (load_job's) raise.
        if isinstance(exc, MlException | ValidationError):
            raise BackendError(f"{where}: {_ml_message(exc)}") from exc
        translated = translate(exc, where)
        if translated is exc:
            raise
        raise translated from exc
