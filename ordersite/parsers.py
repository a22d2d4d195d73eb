"""The request body parser: JSON only, never more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes, and never
nested deeper than API_MAX_JSON_DEPTH."""

import io
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser


class RequestTooLargeError(ParseError):
    """DRF reads the body as a stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE guard, so the
    limit is enforced here. A 400 rather than 413 so clients see one family of body errors."""

    default_detail = "The request body is too large."
    default_code = "request_too_large"


class BodyTooDeepError(ValidationError):
    """A body nested deeper than any of our inputs needs. A 400 `invalid` (code `too_deep`,
    `data.max_depth`), raised before any serializer walks it: a deep enough document makes the
    JSON decoder itself raise RecursionError, which used to be a 500."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            {"non_field_errors": [f"The request body is nested deeper than {limit} levels."]},
            code="too_deep",
        )
        self.data = {"max_depth": limit}


def json_depth(value: Any) -> int:
    """How many objects and arrays deep `value` is (a scalar is 0, `{}` is 1). Iterative, so a
    document the decoder accepted can never exhaust the stack here."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


class BoundedJSONParser(JSONParser):
    """JSONParser that reads at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes and refuses a document
    nested deeper than API_MAX_JSON_DEPTH levels."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestTooLargeError(f"The request body is larger than {limit} bytes.")
            stream = io.BytesIO(body)
        max_depth = settings.API_MAX_JSON_DEPTH
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # The C decoder recurses per level; deeper than the interpreter's limit is deeper than
            # ours.
            raise BodyTooDeepError(max_depth) from None
        if json_depth(data) > max_depth:
            raise BodyTooDeepError(max_depth)
        return data
