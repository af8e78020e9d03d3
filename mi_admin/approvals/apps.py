from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "mi_admin.approvals"
    label = "approvals"
    verbose_name = "Approvals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mi_admin.accounts.group_sync import register_mirrored_groups
        from mi_admin.approvals.selectors import approval_okta_groups

        # Named Okta groups review approval steps: login copies them onto their members.
        register_mirrored_groups("approvals", approval_okta_groups)
