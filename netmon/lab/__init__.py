"""The simulated province: Son La's data center, hubs and 75 sites as network namespaces with
impaired links and real services, so every capability can be shown and tested on real packets.

`netmon.lab.control` is the entry point (up, down, status, set); see docs/lab.md.
"""
