"""Forms of the fleet UI."""

from __future__ import annotations

import uuid

from django import forms


class OperationRequestForm(forms.Form):
    """The button that asks for an operation. The page renders a fresh key; a double
    submit or a browser retry posts it again and gets the first operation back."""

    idempotency_key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    @classmethod
    def fresh(cls) -> OperationRequestForm:
        return cls(initial={"idempotency_key": uuid.uuid4()})

    def key_for(self, scope: str) -> str:
        """The operation's idempotency key, scoped so a key cannot reach another target;
        empty when the form carried none (the service then makes one up)."""
        key: uuid.UUID | None = self.cleaned_data["idempotency_key"]
        return f"ui:{scope}:{key.hex}" if key else ""


class UpgradeForm(OperationRequestForm):
    """ "Upgrade to…": the release to go to. Which releases are allowed is the service's
    rule (registered, newer than what the instance runs); the form only reads the value."""

    target = forms.CharField(max_length=32, strip=True)


class RollbackForm(OperationRequestForm):
    """ "Roll back": why (required; it goes on the operation and in the audit trail)."""

    reason = forms.CharField(max_length=500, strip=True, widget=forms.Textarea)


class LifecycleForm(OperationRequestForm):
    """ "Suspend" / "Resume" on the instance page: why (required; on the operation and in
    the audit trail, which records that it was run directly, not from a request)."""

    reason = forms.CharField(max_length=500, strip=True, widget=forms.Textarea, required=False)


class TeardownConfirmForm(forms.Form):
    """The teardown's confirmation: the approval's reference, the instance's name typed by
    hand, and why. Whether they are right is the service's rule; the form only reads them."""

    reference = forms.CharField(max_length=64, strip=True, widget=forms.HiddenInput)
    typed_name = forms.CharField(max_length=63, strip=True, required=False)
    reason = forms.CharField(max_length=500, strip=True, widget=forms.Textarea, required=False)


class CancelForm(forms.Form):
    """ "Cancel the teardown": why (required)."""

    reason = forms.CharField(max_length=500, strip=True, required=False)
