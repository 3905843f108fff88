"""The one-statement download lookup for a request's raw path parameters and
credentials (services/download.quick_download), shared by the fast lane (api/fastlane.py)
and the generic download route (api/generic.py), and the marks the lane leaves on a
request it passes on, so the route does not look the file up again."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Scope

from cargobay.api.params import decoded
from cargobay.auth.credentials import read_credentials
from cargobay.domain.models import PackageFile
from cargobay.domain.names import parse_coordinates
from cargobay.errors import CargobayError
from cargobay.services.download import quick_download
from cargobay.services.registry import Registry

# The lane found this file but does not send it (too large, not local): the route sends
# it without looking it up a second time.
FOUND_FILE = "cargobay.found_file"
# The lane looked the request up and the one-statement path has no answer for it (a
# refusal, an error, a listing): the route goes the general way at once.
NO_QUICK_ANSWER = "cargobay.no_quick_answer"


async def quick_file(
    registry: Registry,
    method: str,
    path_params: Mapping[str, str],
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> PackageFile | None:
    """``quick_download`` for a request's undecoded path parameters and credentials."""
    try:
        where = parse_coordinates(
            decoded(path_params["package_name"]),
            decoded(path_params["package_version"]),
            decoded(path_params["file_path"]),
        )
    except CargobayError:
        return None
    creds = read_credentials(headers, query)
    return await quick_download(registry, creds, method, decoded(path_params["id"]), where)


async def looked_up(
    scope: Scope,
    registry: Registry,
    method: str,
    path_params: Mapping[str, str],
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> PackageFile | None:
    """The route's quick answer: what the lane left on the request, or, when the lane did
    not look (not a plain GET), the lookup itself."""
    found: PackageFile | None = scope.get(FOUND_FILE)
    if found is not None or scope.get(NO_QUICK_ANSWER):
        return found
    return await quick_file(registry, method, path_params, headers, query)
