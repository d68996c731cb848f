"""GitHub Actions glue: the plan, outputs, the sticky comment, what `init` writes."""
