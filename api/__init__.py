"""The HTTP API (CONTRACT 5) and the dashboard: FastAPI over the running controller service."""
