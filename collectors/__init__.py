"""Collectors: read what equipment reports about itself (SNMP) and produce the same `probes.base.Result`."""
