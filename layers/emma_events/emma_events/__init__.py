"""Shared code of the Emma member-events API: models, DynamoDB repository, errors and HTTP glue.

Shipped to every function as the ``EventsLayer`` Lambda layer (``layers/emma_events``).
"""
