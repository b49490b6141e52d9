from django.urls import path

from schedules import views

app_name = "schedules"
urlpatterns = [
    path("", views.schedule_list, name="list"),
    path("calendar/", views.schedule_calendar, name="calendar"),
    path("bulk", views.schedule_bulk, name="bulk"),
    path("<id:pk>/", views.schedule_detail, name="detail"),
    path("<id:pk>/status", views.schedule_set_enabled_view, name="set_enabled"),
]
