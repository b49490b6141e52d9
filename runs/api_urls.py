from django.urls import path

from runs import api

app_name = "api"
urlpatterns = [
    path("published/<id:pk>/runs", api.published_runs, name="published_runs"),
]
