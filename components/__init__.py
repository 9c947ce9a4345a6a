"""Reusable Pulumi components: one module per pattern plus the shared pieces."""
