"""The HTTP API (docs/contract.md §5) and the dashboard: FastAPI over the running controller service."""
