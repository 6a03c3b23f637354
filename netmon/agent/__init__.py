"""The edge agent: `netmon agent` at a service center measures inside-out, keeps every Result in a
durable local buffer and delivers it to the central `netmon run`, which writes it into the history and
into Prometheus at its own timestamp. See docs/agent.md.
"""
