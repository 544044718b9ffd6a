"""The server's OpenAPI document, built from the route table and the pydantic models of each route: the same
models validate requests (``validation.py``), so the document cannot drift from what the server accepts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

if TYPE_CHECKING:
    from .context import ServerContext

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"
_ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "ErrorResponse": {"type": "object", "required": ["error"],
                      "properties": {"error": {"type": "string"}, "error_type": {"type": "string"},
                                     "estimated_time": {"type": "number"}}},
    "OpenAIErrorResponse": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["message", "type"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                       "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}},
}  # fmt: skip
_STATUS_TEXT = {400: "Bad request", 403: "Forbidden", 404: "Not found", 408: "Request timeout", 413: "Payload too "
                "large", 415: "Unsupported media type", 422: "Input validation error", 424: "Generation error",
                429: "Overloaded", 500: "Incomplete generation", 501: "Task not supported by the backend",
                503: "Model loading or unhealthy"}  # fmt: skip


def openapi_document(ctx: ServerContext) -> dict[str, Any]:
    from .openai import ModelListBody
    from .routes import ALIASES, TASK_ROUTES
    from .tgi import Info

    schemas: dict[str, Any] = dict(_ERROR_SCHEMAS)
    paths: dict[str, Any] = {}

    def schema(annotation: Any) -> dict[str, Any]:
        generated = TypeAdapter(annotation).json_schema(ref_template=_REF, mode="serialization")
        schemas.update(generated.pop("$defs", {}))
        if isinstance(annotation, type) and "title" in generated and generated.get("type") == "object":
            schemas[annotation.__name__] = generated
            return {"$ref": _REF.format(model=annotation.__name__)}
        return generated

    def request_schema(annotation: Any) -> dict[str, Any]:
        generated = TypeAdapter(annotation).json_schema(ref_template=_REF, mode="validation")
        schemas.update(generated.pop("$defs", {}))
        schemas[annotation.__name__] = generated
        return {"$ref": _REF.format(model=annotation.__name__)}

    for route in TASK_ROUTES:
        error = "OpenAIErrorResponse" if route.dialect == "openai" else "ErrorResponse"
        responses: dict[str, Any] = {}
        content: dict[str, Any] = {}
        if route.response is not None:
            content["application/json"] = {"schema": schema(route.response)}
        if route.stream is not None:  # one server-sent event: its data is the JSON of the event model
            data: dict[str, Any] = {"type": "string", "contentMediaType": "application/json",
                                    "contentSchema": schema(route.stream)}  # fmt: skip
            if route.dialect == "openai":  # OpenAI-compatible streams end with `data: [DONE]`; TGI's do not
                data = {"anyOf": [data, {"const": "[DONE]"}]}
            content["text/event-stream"] = {"schema": {
                "type": "object", "required": ["data"], "properties": {"event": {"type": "string"}, "data": data}}}
        if not content:  # the task decides: any JSON, or a PNG for text-to-image
            content = {"application/json": {"schema": {}}, "image/png": {"schema": {"type": "string",
                                                                                   "format": "binary"}},
                       "text/event-stream": {"schema": {"type": "object"}}}  # fmt: skip
        responses["200"] = {"description": "OK", "content": content}
        for status in sorted({*route.errors, 404, 413, 415, 422, 429, 503}):
            responses[str(status)] = {"description": _STATUS_TEXT.get(status, "Error"), "content": {
                "application/json": {"schema": {"$ref": _REF.format(model=error)}}}}  # fmt: skip
        body = request_schema(route.request) if route.request is not None else {"type": "object"}
        accepted: dict[str, Any] = {"application/json": {"schema": body}}
        if route.binary:  # a binary-input task's file, as InferenceClient sends raw bytes or a path
            accepted["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
        operation: dict[str, Any] = {"tags": [route.tag], "summary": route.summary, "requestBody": {
            "required": True, "content": accepted}, "responses": responses}  # fmt: skip
        path = route.path.replace(":path}", "}")
        if "{" in path:
            operation["parameters"] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                                       for name in _path_names(path)]  # fmt: skip
        paths[path] = {"post": operation}
    for alias, target in ALIASES.items():
        paths[alias] = paths[target]
    paths["/info"] = {"get": {"tags": ["TGI", "TEI"], "summary": "Served model info (TGI's and TEI's Info in one)",
                              "responses": {"200": {"description": "OK", "content": {
                                  "application/json": {"schema": schema(Info)}}}}}}  # fmt: skip
    paths["/health"] = {"get": {"tags": ["TGI", "TEI"], "summary": "Health check",
                                "responses": {"200": {"description": "Ready"}}}}  # fmt: skip
    paths["/v1/models"] = {"get": {"tags": ["OpenAI"], "summary": "Served models", "responses": {"200": {
        "description": "OK", "content": {"application/json": {"schema": schema(ModelListBody)}}}}}}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "hfbridge protocol server", "version": "1",
                 "description": f"Serving {ctx.model_id} ({ctx.backend.name} backend)."},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
