"""Apps under test: the same functions written with the Python SDK's sync API (Flask) and async API (FastAPI)."""
