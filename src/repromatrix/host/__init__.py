"""Orchestration on the host: nox sessions, the lab, interpreters, preflight."""
