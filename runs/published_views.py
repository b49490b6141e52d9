"""Published pipelines: the list, one with its runs, endpoint and tokens, and the actions on it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard import roles
from dashboard.models import Action
from runs.actions import published_set_enabled, published_submit_action
from runs.filters import known_backends
from runs.forms import ReasonForm, SubmitPublishedForm, TokenForm
from runs.models import ApiToken, PublishedPipeline
from runs.tokens import token_create, token_may_revoke, token_revoke, tokens_visible_to

RUNS_SHOWN = 50
NEW_TOKEN_KEY = "new-token"


def _get(pk: int) -> PublishedPipeline:
    return get_object_or_404(PublishedPipeline.objects.select_related("pipeline", "source_run"), pk=pk)


@require_GET
@roles.require(roles.READ)
def published_list(request: HttpRequest) -> HttpResponse:
    backend = request.GET.get("backend", "").strip()
    published = PublishedPipeline.objects.select_related("source_run").annotate(run_count=Count("runs"))
    if backend:
        published = published.filter(backend=backend)
    return render(
        request,
        "runs/published_list.html",
        {"published": published, "backend": backend, "backends": known_backends()},
    )


def _detail_context(request: HttpRequest, published: PublishedPipeline, **extra) -> dict:
    user = request.user
    can_submit = user.has_perm(roles.SUBMIT_PUBLISHED)
    sees_all_tokens = user.has_perm(roles.MANAGE_TOKENS)
    return {
        "published": published,
        "runs": list(published.runs.newest_first()[:RUNS_SHOWN]),
        "endpoint": request.build_absolute_uri(reverse("api:published_runs", args=[published.pk])),
        "tokens": list(tokens_visible_to(user, published)),
        "sees_all_tokens": sees_all_tokens,
        "shows_tokens": can_submit or sees_all_tokens,
        "actions": list(
            Action.objects.filter(
                target_type="published", backend=published.backend, target_id=published.external_id
            )
            .select_related("requested_by")
            .order_by("-requested_at", "-id")[:10]
        ),
        "can_submit": can_submit,
        "can_enable": user.has_perm(roles.ENABLE_PUBLISHED),
        "token_form": TokenForm(),
        "submit_form": SubmitPublishedForm(published=published),
        **extra,
    }


@require_GET
@roles.require(roles.READ)
def published_detail(request: HttpRequest, pk: int) -> HttpResponse:
    published = _get(pk)
    # A token made by the POST before the redirect is shown on this one page view, then forgotten.
    new = request.session.pop(NEW_TOKEN_KEY, None)
    extra = {}
    if new and new["published"] == published.pk:
        extra = {"new_token": ApiToken.objects.filter(pk=new["token"]).first(), "new_secret": new["secret"]}
    response = render(request, "runs/published_detail.html", _detail_context(request, published, **extra))
    if extra:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@roles.require(roles.ENABLE_PUBLISHED)
def published_set_enabled_view(request: HttpRequest, pk: int) -> HttpResponse:
    published = _get(pk)
    enabled = request.POST.get("enabled") == "1"
    form = ReasonForm(request.POST)
    form.is_valid()
    action = published_set_enabled(
        published=published, user=request.user, enabled=enabled, reason=form.cleaned_data.get("reason", "")
    )
    messages.info(request, f"{action.get_kind_display()} requested (action #{action.pk}).")
    return redirect(published)


@require_POST
@roles.require(roles.SUBMIT_PUBLISHED)
def published_submit_view(request: HttpRequest, pk: int) -> HttpResponse:
    published = _get(pk)
    form = SubmitPublishedForm(request.POST, published=published)
    if not form.is_valid():
        return render(
            request,
            "runs/published_detail.html",
            _detail_context(request, published, submit_form=form),
            status=400,
        )
    action = published_submit_action(
        published=published,
        user=request.user,
        parameters=form.parameters(),
        experiment=form.cleaned_data["experiment"],
        reason=form.cleaned_data["reason"],
    )
    messages.info(request, f"Run requested (action #{action.pk}).")
    return redirect(published)


@require_POST
@roles.require(roles.SUBMIT_PUBLISHED)
def token_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    published = _get(pk)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "runs/published_detail.html",
            _detail_context(request, published, token_form=form),
            status=400,
        )
    token, secret = token_create(published=published, user=request.user, name=form.cleaned_data["name"])
    request.session[NEW_TOKEN_KEY] = {"published": published.pk, "token": token.pk, "secret": secret}
    return redirect(published)


@require_POST
@roles.require_any(roles.SUBMIT_PUBLISHED, roles.MANAGE_TOKENS)
def token_revoke_view(request: HttpRequest, pk: int, token_pk: int) -> HttpResponse:
    published = _get(pk)
    token = get_object_or_404(
        ApiToken.objects.select_related("created_by"), pk=token_pk, published_pipeline=published
    )
    if not token_may_revoke(request.user, token):
        raise PermissionDenied("You may revoke only the tokens you made.")
    token_revoke(token=token, user=request.user)
    owner = "" if token.created_by_id == request.user.pk else f" of {token.created_by or 'a deleted user'}"
    messages.info(request, f"Token {token}{owner} revoked.")
    return redirect(published)
