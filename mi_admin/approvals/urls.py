from django.urls import path

from mi_admin.approvals import slack_views, views

app_name = "approvals"

urlpatterns = [
    path("approvals/", views.inbox, name="inbox"),
    path("approvals/<int:pk>/", views.request_detail, name="request_detail"),
    path("approvals/<int:pk>/review/", views.review, name="review"),
    path("approvals/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path(
        "integrations/slack/interactivity/",
        slack_views.slack_interactivity,
        name="slack_interactivity",
    ),
]
