"""A center's power, as every layer reads it: the measurement that says its UPS runs on battery.

The SNMP UPS profile (`collectors.snmp`) writes it; the history store's ``power`` cause
(`exporters.history_outages`) and the meeting readiness read it. Its name lives on the ground floor so
that no reader imports the collector: collectors and exporters stand side by side and import only
down (tests/test_layers.py).
"""

from __future__ import annotations

#: 1 while the UPS's output source is its battery (upsOutputSource battery(5)), else 0.
UPS_ON_BATTERY = "netmon_ups_on_battery"
