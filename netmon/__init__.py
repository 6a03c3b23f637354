"""sonla-netmon: the application on top — inventory, scheduler, CLI, simulated province, reports."""

__version__ = "0.1.0"
