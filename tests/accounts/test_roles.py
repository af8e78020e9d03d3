"""The role → permission table, pinned: changing who may do what must change this test too,
so it is a reviewed decision, not a side effect."""

from __future__ import annotations

from mi_admin.accounts.roles import ROLE_PERMISSIONS, Perm, Role, roles_with

# Written out by hand on purpose: derived from the code, it would agree with any mistake.
EXPECTED: dict[str, set[str]] = {
    "mi-ce": {"view_fleet", "file_request"},
    "mi-managers": {"view_fleet", "file_request", "approve"},
    "mi-devops": {
        "view_fleet",
        "file_request",
        "view_audit",
        "sync_inventory",
        "operate_instance",
        "handle_request",
    },
    "mi-admins": {
        "view_fleet",
        "file_request",
        "view_audit",
        "sync_inventory",
        "operate_instance",
        "handle_request",
        "approve",
        "mark_maintenance",
        "manage_settings",
    },
}


def test_role_permission_table_is_pinned():
    # given the table in the code; then it is exactly the reviewed one, role by role
    actual = {
        role.value: {perm.value for perm in perms} for role, perms in ROLE_PERMISSIONS.items()
    }
    assert actual == EXPECTED


def test_every_role_and_permission_is_in_the_table():
    # a new role or permission must be placed in the table (and so in EXPECTED) on purpose
    assert {role.value for role in Role} == set(EXPECTED)
    assert {perm.value for perm in Perm} == set().union(*EXPECTED.values())


def test_only_admins_mark_maintenance_and_manage_settings():
    # the two powers that rewrite history or configuration stay with Admins
    assert roles_with(Perm.MARK_MAINTENANCE) == [Role.ADMIN]
    assert roles_with(Perm.MANAGE_SETTINGS) == [Role.ADMIN]
    assert set(roles_with(Perm.APPROVE)) == {Role.MANAGER, Role.ADMIN}
