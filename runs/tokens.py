"""Bearer tokens for published pipelines' endpoints: made random, shown once, kept only as a digest.

A token belongs to the user who made it: it submits runs as them, so others may not see or revoke it, except
users who manage every token (roles.MANAGE_TOKENS: schedule managers, superusers).
"""

from __future__ import annotations

import hashlib
import secrets

from django.db.models import QuerySet
from django.utils import timezone

from dashboard import roles
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


def tokens_visible_to(user, published: PublishedPipeline) -> QuerySet[ApiToken]:
    """The published pipeline's tokens this user may see: every one, their own, or none."""
    tokens = published.tokens.select_related("created_by", "revoked_by")
    if user.has_perm(roles.MANAGE_TOKENS):
        return tokens
    if user.has_perm(roles.SUBMIT_PUBLISHED):
        return tokens.filter(created_by_id=user.pk)
    return tokens.none()


def token_may_revoke(user, token: ApiToken) -> bool:
    if user.has_perm(roles.MANAGE_TOKENS):
        return True
    return token.created_by_id == user.pk and user.has_perm(roles.SUBMIT_PUBLISHED)


def token_revoke(*, token: ApiToken, user) -> None:
    """Revoke it, recording who did. Callers check token_may_revoke first: the owner is not always the user."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=user
    )
