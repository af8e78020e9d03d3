from django.urls import path

from mi_admin.metrics import views

app_name = "metrics"

urlpatterns = [path("metrics", views.metrics, name="metrics")]
