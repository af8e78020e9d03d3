"""Every list renders through one toolkit (mi_admin.ui.lists): the whole page, or the results
partial for htmx, the whole page again for a history restore, ``Vary: HX-Request`` on both,
and invalid filters explained instead of a wrong list."""

from __future__ import annotations

import pytest

# url, a filter value no list accepts, the text of its error
LISTS = [
    ("/instances/", {"kind": "spaceship"}, "spaceship is not one of the available choices"),
    ("/operations/", {"kind": "spaceship"}, "spaceship is not one of the available choices"),
    ("/audit/", {"since": "yesterday-ish"}, "Enter a valid date/time"),
]
IDS = ["fleet", "operations", "audit"]


@pytest.mark.parametrize(("url", "bad", "error"), LISTS, ids=IDS)
def test_htmx_gets_the_partial_and_caches_keep_them_apart(client_for, url, bad, error):
    client = client_for("devops")
    # when the page is asked for plainly, then by htmx
    page = client.get(url)
    partial = client.get(url, HTTP_HX_REQUEST="true")
    # then the first is a page, the second a fragment, and both vary on HX-Request
    assert "<html" in page.content.decode()
    assert "<html" not in partial.content.decode()
    for response in (page, partial):
        assert response.status_code == 200
        assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(("url", "bad", "error"), LISTS, ids=IDS)
def test_history_restore_gets_the_whole_page(client_for, url, bad, error):
    # given htmx restoring history after a cache miss
    response = client_for("devops").get(
        url, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    # then it gets the whole page, not a fragment
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(("url", "bad", "error"), LISTS, ids=IDS)
def test_invalid_filters_are_explained(client_for, url, bad, error):
    client = client_for("devops")
    # when the page carries a filter value nothing accepts
    page = client.get(url, bad)
    # then it answers 400 with the error block naming the problem
    assert page.status_code == 400
    assert 'data-testid="filter-errors"' in page.content.decode()
    assert error in page.content.decode()
    # and htmx (which does not swap 4xx answers) gets the same block with a 200
    partial = client.get(url, bad, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert 'data-testid="filter-errors"' in partial.content.decode()
