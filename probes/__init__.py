"""Active probes: each module measures something by sending traffic and registers itself in `probes.base`."""
