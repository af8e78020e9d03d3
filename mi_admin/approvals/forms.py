"""Parse only: the rules of a review live in services.py and eligibility.py."""

from django import forms

from mi_admin.approvals.choices import Decision


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Your reason; required where the step says so.",
    )
