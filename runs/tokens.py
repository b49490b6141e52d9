"""Bearer tokens for published pipelines' endpoints: made random, shown once, kept only as a digest."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from runs.models import ApiToken, PublishedPipeline

PREFIX = "rbp_"


def _digest(raw: str) -> str:
    # A token has 256 random bits: a plain SHA-256 cannot be reversed, and lets us look it up by digest.
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, published: PublishedPipeline, user, name: str) -> tuple[ApiToken, str]:
    """The new token and its secret, which the caller shows once and never stores."""
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        published_pipeline=published,
        name=name,
        prefix=raw[: len(PREFIX) + 4],
        digest=_digest(raw),
        created_by=user,
    )
    return token, raw


def token_authenticate(raw: str, published: PublishedPipeline) -> ApiToken | None:
    """The active token of this published pipeline with that secret, its last use recorded; else None."""
    token = (
        ApiToken.objects.filter(digest=_digest(raw), published_pipeline=published, revoked_at__isnull=True)
        .select_related("created_by")
        .first()
    )
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


def token_revoke(*, token: ApiToken, user) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=user
    )
