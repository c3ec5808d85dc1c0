"""The published contract: docs/openapi.json and the schemathesis run against it."""
