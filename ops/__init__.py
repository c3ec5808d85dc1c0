"""Operations tools: run against a deployed stack's table (or the local stack's), by the team that runs it.

- ``api_keys.py`` (`make keys ARGS="create --table ... --account 100"`): create, list and revoke an account's API
  keys (HTTP Basic credentials), and add the usage-plan key.
- ``replay_cascades.py`` (`make replay-cascades ARGS="--table ... --queue-url ..."`): replay cascade deletes that
  failed into the dead-letter queue, or restart one.

Development tools (the local stack, benchmarks, the test harness) live in ``devtools/``.
"""
