"""The AWS clients of every function, from botocore itself.

boto3 would add ~25 ms of imports (s3transfer, resources) at every cold start for nothing, since only low-level
clients are used. The session's data loader checks that a service exists among the services the functions call
rather than among the ~420 folders of botocore's data: listing them is ~14 ms of CPU at a client's creation
(botocore's own proposal, boto/botocore pull request 3687, removes the same listing). docs/performance.md.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import DataNotFoundError

#: The services the functions call.
SERVICES = ("dynamodb", "events")


class _Loader(botocore.loaders.Loader):
    def list_available_services(self, type_name: str) -> list[str]:
        """The services among SERVICES that have ``type_name`` data (botocore: any service that has it)."""
        found = []
        for service in SERVICES:
            try:
                self.list_api_versions(service, type_name)
            except DataNotFoundError:
                continue
            found.append(service)
        return found


@cache
def _loader(data_path: str | None) -> _Loader:
    """The container's data loader (its parsed models serve every client), with botocore's search path: the
    built-in data, and AWS_DATA_PATH's folders first (as botocore.loaders.create_loader reads it)."""
    extra = [os.path.expanduser(os.path.expandvars(path)) for path in data_path.split(os.pathsep)] if data_path else []
    return _Loader(extra_search_paths=extra)


def new_client(service: str, config: Config) -> Any:
    """A client of ``service`` (one of SERVICES), from a session of its own: credentials and settings as botocore
    resolves them for any client."""
    if service not in SERVICES:
        raise ValueError(f"{service} is not among the services the functions call: {SERVICES}")
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader(session.get_config_variable("data_path")))
    return session.create_client(service, config=config)
