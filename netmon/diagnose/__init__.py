"""Diagnose from the terminal: `netmon probe SITE`, `netmon ping`, `netmon trace`.

lookup (find the site) → plan (which checks, limits, budget) → session (run them through the
scheduler's `run_check`, trace failed links) → verdict/diagnosis → render (table) or report (JSON).
"""
