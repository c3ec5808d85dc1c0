"""Development tooling; nothing here is deployed. Grouped by purpose, one package each:

============  ===========================================================================================
package       what it is for
============  ===========================================================================================
local_stack   ``make run`` and ``make invoke`` without Docker: ``server`` (API Gateway + authorizer on
              localhost), ``runtime`` and ``worker`` (warm Lambda execution environments), ``store``
              (DynamoDB Local or moto), ``stream_poller`` (the stream event source mapping), ``template``
              (template.yaml read as the single source of truth), ``invoke`` (``sam local invoke``'s interface).
testing       The test harness: ``in_process`` (call a handler in this process), ``stack_process`` (a local
              stack in a subprocess, spoken to over HTTP), ``events`` (the events/ files and their
              variations; regenerates events/), ``seeding`` (the world the events refer to), ``tiers``
              (``make test``: both store tiers side by side; ``make test-fast``).
bench         ``make bench`` (``__main__``: one entry point; ``coldstart``, ``request_cost`` with ``capacity``,
              ``warm_latency``, ``cascade``: one module per phase) and ``make soak`` (``soak``).
contract      The API's published contract: ``openapi`` (docs/openapi.json from the functions' code) and
              ``fuzz`` (``make fuzz``: schemathesis against the local stack).
build         ``check_layer``: after ``sam build``, the layer's native libraries are for arm64.
============  ===========================================================================================

Operations tools, which run against a deployed table, are in ops/.
"""

from pathlib import Path

#: The project's root folder.
ROOT = Path(__file__).resolve().parent.parent
