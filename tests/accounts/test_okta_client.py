"""The Okta client against the local IdP's Okta API, over real HTTP: Okta's shapes, the SSWS
token check, memberships that reach the next id_token, and how failures are classified."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from idp import subject_for
from idp.process import IdpProcess, free_port
from mi_admin.accounts.okta_client import (
    OktaClient,
    OktaNotFound,
    OktaPermanentError,
    OktaTransientError,
)

GROUP = "mi-site-admins"


@pytest.fixture
def okta(idp_server: IdpProcess) -> Iterator[OktaClient]:
    client = OktaClient(org_url=idp_server.base_url, api_token=idp_server.api_token, timeout=5)
    group = client.group_find(GROUP)
    for name in ("devops", "ce"):
        client.group_member_remove(group.id, subject_for(name))
    idp_server.api_reset()
    yield client
    idp_server.api_reset()
    for name in ("devops", "ce"):
        client.group_member_remove(group.id, subject_for(name))


def test_users_and_groups_have_oktas_shapes(okta: OktaClient, idp_server: IdpProcess) -> None:
    # when MI Admin looks a person up by login, and a group by name
    user = okta.user_get("devops@example.com")
    group = okta.group_find(GROUP)
    # then the ids are Okta's (the user's is the id_token's sub) and a group reads by id
    assert user.id == subject_for("devops")
    assert user.login == "devops@example.com"
    assert group.id.startswith("00g")
    assert okta.group_get(group.id).name == GROUP
    raw = httpx.get(
        f"{idp_server.base_url}/api/v1/users/devops@example.com",
        headers={"Authorization": f"SSWS {idp_server.api_token}"},
        timeout=5,
    ).json()
    assert raw["status"] == "ACTIVE"
    assert raw["profile"]["email"] == "devops@example.com"
    assert set(raw["_links"]) == {"self"}


def test_a_member_added_and_removed_reads_back_each_time(okta: OktaClient) -> None:
    group = okta.group_find(GROUP)
    devops = okta.user_get("devops@example.com")
    assert devops.id not in okta.group_member_ids(group.id)
    # when added (twice: Okta's PUT is idempotent)
    okta.group_member_add(group.id, devops.id)
    okta.group_member_add(group.id, devops.id)
    assert okta.group_member_ids(group.id) == {devops.id}
    # when removed (twice)
    okta.group_member_remove(group.id, devops.id)
    okta.group_member_remove(group.id, devops.id)
    assert devops.id not in okta.group_member_ids(group.id)


def test_members_are_paged_with_a_link_header(okta: OktaClient, idp_server: IdpProcess) -> None:
    group = okta.group_find(GROUP)
    for name in ("devops", "ce"):
        okta.group_member_add(group.id, subject_for(name))
    headers = {"Authorization": f"SSWS {idp_server.api_token}"}
    url = f"{idp_server.base_url}/api/v1/groups/{group.id}/users?limit=1"
    first = httpx.get(url, headers=headers, timeout=5)
    assert len(first.json()) == 1
    second = httpx.get(first.links["next"]["url"], headers=headers, timeout=5)
    assert len(second.json()) == 1
    assert "next" not in second.links
    # and the client follows the pages
    assert okta.group_member_ids(group.id) == {subject_for("devops"), subject_for("ce")}


def test_a_membership_reaches_the_groups_of_the_persona(
    okta: OktaClient, idp_server: IdpProcess
) -> None:
    # the IdP's groups are the id_token's groups claim (idp/validators.py): the persona list
    # the IdP shows reads the same rows
    group = okta.group_find(GROUP)
    okta.group_member_add(group.id, subject_for("devops"))
    page = httpx.get(f"{idp_server.base_url}/login/", timeout=5).text
    assert GROUP in page


def test_a_wrong_token_is_refused_with_oktas_error(idp_server: IdpProcess) -> None:
    bad = OktaClient(org_url=idp_server.base_url, api_token="not-the-token", timeout=5)
    with pytest.raises(OktaPermanentError, match="check OKTA_API_TOKEN"):
        bad.group_find(GROUP)
    raw = httpx.get(f"{idp_server.base_url}/api/v1/groups", timeout=5)
    assert raw.status_code == 401
    assert raw.json()["errorCode"] == "E0000011"
    bearer = httpx.get(
        f"{idp_server.base_url}/api/v1/groups",
        headers={"Authorization": f"Bearer {idp_server.api_token}"},
        timeout=5,
    )
    assert bearer.status_code == 401


def test_unknown_users_and_groups_are_not_found(okta: OktaClient) -> None:
    with pytest.raises(OktaNotFound, match="E0000007"):
        okta.user_get("nobody@example.com")
    with pytest.raises(OktaNotFound, match="no group named 'no-such-group'"):
        okta.group_find("no-such-group")
    # q matches prefixes: a group whose name only starts with the one asked is not it
    with pytest.raises(OktaNotFound):
        okta.group_find("mi-site")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_transient(
    okta: OktaClient, idp_server: IdpProcess, status: int
) -> None:
    group = okta.group_find(GROUP)
    idp_server.api_fault("groups.users.put", status=status, count=1)
    with pytest.raises(OktaTransientError, match=str(status)):
        okta.group_member_add(group.id, subject_for("devops"))
    # the fault was used up; the next call works
    okta.group_member_add(group.id, subject_for("devops"))
    assert subject_for("devops") in okta.group_member_ids(group.id)
    assert idp_server.api_calls("groups.users.put") == 2


def test_an_unreachable_okta_is_transient_and_the_message_has_no_token() -> None:
    client = OktaClient(
        org_url=f"http://127.0.0.1:{free_port()}", api_token="secret-token-123", timeout=2
    )
    with pytest.raises(OktaTransientError) as caught:
        client.group_find(GROUP)
    assert "secret-token-123" not in str(caught.value)


def test_no_configuration_fails_saying_what_to_set() -> None:
    with pytest.raises(OktaPermanentError, match="OKTA_ORG_URL and OKTA_API_TOKEN"):
        OktaClient(org_url="", api_token="")
