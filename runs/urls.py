from django.urls import path

from runs import log_views, published_views, run_views, views

app_name = "runs"
urlpatterns = [
    # the runs list
    path("runs/", views.run_list, name="list"),
    # a run
    path("runs/<int:pk>/", run_views.run_detail, name="detail"),
    path("runs/<int:pk>/cancel", run_views.run_cancel_view, name="cancel"),
    path("runs/<int:pk>/resubmit", run_views.run_resubmit_view, name="resubmit"),
    path("runs/<int:pk>/publish", run_views.run_publish_view, name="publish"),
    # a step's log
    path("runs/<int:pk>/steps/<str:node_id>/logs/<str:name>/", log_views.step_log, name="step_log"),
    # published pipelines
    path("published/", published_views.published_list, name="published_list"),
    path("published/<int:pk>/", published_views.published_detail, name="published_detail"),
    path(
        "published/<int:pk>/status", published_views.published_set_enabled_view, name="published_set_enabled"
    ),
    path("published/<int:pk>/runs", published_views.published_submit_view, name="published_submit"),
    path("published/<int:pk>/tokens", published_views.token_create_view, name="token_create"),
    path(
        "published/<int:pk>/tokens/<int:token_pk>/revoke",
        published_views.token_revoke_view,
        name="token_revoke",
    ),
]
