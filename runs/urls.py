from django.urls import path

from runs import file_views, log_downloads, log_views, pipeline_views, published_views, run_views, views

app_name = "runs"
urlpatterns = [
    # the runs list
    path("runs/", views.run_list, name="list"),
    path("runs/changes", views.run_changes, name="changes"),
    path("runs/cancel", views.run_bulk_cancel, name="bulk_cancel"),
    # a run
    path("runs/<id:pk>/", run_views.run_detail, name="detail"),
    path("runs/<id:pk>/cancel", run_views.run_cancel_view, name="cancel"),
    path("runs/<id:pk>/resubmit", run_views.run_resubmit_view, name="resubmit"),
    path("runs/<id:pk>/publish", run_views.run_publish_view, name="publish"),
    path("runs/<id:pk>/graph/status", run_views.run_graph_status, name="graph_status"),
    path("runs/<id:pk>/definition.yml", run_views.run_definition, name="definition"),
    # a step's log; log names may hold slashes (Azure ML's "user_logs/std_log.txt"), so the longest forms first
    path(
        "runs/<id:pk>/steps/<str:node_id>/logs/<path:name>/at/<offset:offset>/",
        log_downloads.step_log_line,
        name="step_log_line",
    ),
    path(
        "runs/<id:pk>/steps/<str:node_id>/logs/<path:name>/download",
        log_downloads.step_log_download,
        name="step_log_download",
    ),
    path("runs/<id:pk>/steps/<str:node_id>/logs/<path:name>/", log_views.step_log, name="step_log"),
    path("runs/<id:pk>/steps/<str:node_id>/logs/", log_views.step_logs, name="step_logs"),
    # a step's files: an output, its code snapshot; a folder's link ends in a slash, a file's does not
    path(
        "runs/<id:pk>/steps/<str:node_id>/outputs/<str:name>/",
        file_views.step_output_files,
        name="step_output",
    ),
    path(
        "runs/<id:pk>/steps/<str:node_id>/outputs/<str:name>/<path:path>",
        file_views.step_output_files,
        name="step_output_path",
    ),
    path("runs/<id:pk>/steps/<str:node_id>/snapshot/", file_views.step_snapshot_files, name="step_snapshot"),
    path(
        "runs/<id:pk>/steps/<str:node_id>/snapshot/<path:path>",
        file_views.step_snapshot_files,
        name="step_snapshot_path",
    ),
    # pipelines
    path("pipelines/", pipeline_views.pipeline_list, name="pipeline_list"),
    path("pipelines/<id:pk>/", pipeline_views.pipeline_detail, name="pipeline_detail"),
    path("pipelines/<id:pk>/runs", pipeline_views.pipeline_submit_view, name="pipeline_submit"),
    # published pipelines
    path("published/", published_views.published_list, name="published_list"),
    path("published/<id:pk>/", published_views.published_detail, name="published_detail"),
    path(
        "published/<id:pk>/status", published_views.published_set_enabled_view, name="published_set_enabled"
    ),
    path("published/<id:pk>/runs", published_views.published_submit_view, name="published_submit"),
    path("published/<id:pk>/tokens", published_views.token_create_view, name="token_create"),
    path(
        "published/<id:pk>/tokens/<id:token_pk>/revoke",
        published_views.token_revoke_view,
        name="token_revoke",
    ),
]
