from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "mi_admin.ui"
    label = "ui"
    verbose_name = "User interface shell"
