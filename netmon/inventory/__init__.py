"""The inventory: config/communes.yaml as a validated, resolved model."""

from netmon.inventory.loader import Inventory, Node, load
from netmon.inventory.source import ConfigError, ConfigIssue

__all__ = ["ConfigError", "ConfigIssue", "Inventory", "Node", "load"]
