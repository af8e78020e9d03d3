from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mi_admin.accounts"
    label = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        # Imported for their side effects: login auditing and the URL rule check.
        from mi_admin.accounts import checks, signals  # noqa: F401
