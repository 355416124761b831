"""Inventory: the hosts of an environment, by group, for fan-out (`@each.<group>`).

`escalator.config` hands `[environments.NAME.groups]` and `[environments.NAME.inventory]` to
`escalator.inventory.config.parse_inventory`, which checks their shape and returns a frozen
`Inventory` (nothing is read or run at config time: `status` never pays for an inventory).
The runner resolves a group when a selected scenario fans out over it
(`escalator.runner.fanout`): inline hosts as written, an Ansible inventory file through
`escalator.inventory.ansible`, a command's output through `escalator.inventory.listing`.
"""

from escalator.inventory.model import (
    AnsibleCommand,
    AnsibleFile,
    GroupCommand,
    Host,
    Inventory,
    InventoryError,
    Listed,
)

__all__ = ["AnsibleCommand", "AnsibleFile", "GroupCommand", "Host", "Inventory",
           "InventoryError", "Listed"]
