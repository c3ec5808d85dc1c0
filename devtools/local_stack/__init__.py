"""The Docker-free local stack: ``make run`` and ``make invoke`` (see the table in devtools/__init__.py)."""
