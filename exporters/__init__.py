"""Exporters: consume `probes.base.Result` values and publish them (Prometheus, history store, Grafana)."""
