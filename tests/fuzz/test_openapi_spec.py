"""The gateway's merged ``/openapi.json`` (shared.gateway.merge_openapi) tells the truth about the services
behind it: each service's own schema for its own answers, even where two services use one model name, and
the sign-in scheme its operations name."""

from __future__ import annotations

import json

import httpx
from jsonschema import Draft202012Validator

from shared.gateway import _refs, merge_openapi
from tests.support.complaints import valid_body
from tests.support.processes import wait_until


def _schema_of(spec: dict, path: str, method: str = "get", status: str = "200") -> Draft202012Validator:
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": spec["components"]})


def test_a_complaints_tracking_page_matches_its_documented_schema(fuzz_stack):
    """Intake's and workflow's ``StepOut`` differ (a step on the tracking page has no role); the merged spec
    once kept only the last one, so every tracking answer broke its documented schema."""
    base = fuzz_stack
    r = httpx.post(f"{base}/v1/complaints", json=valid_body(), headers={"Idempotency-Key": "fuzz-spec-1"}, timeout=30)
    assert r.status_code == 202, r.text
    code = r.json()["tracking_code"]
    tracked = wait_until(
        lambda: (b := httpx.get(f"{base}/v1/track/{code}", timeout=10).json()).get("current_step") and b,
        timeout=60,
        interval=0.3,
        message="the complaint to reach step 2",
    )
    spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
    problems = [e.message for e in _schema_of(spec, "/v1/track/{tracking_code}").iter_errors(tracked)]
    assert problems == [], f"{problems}\n{json.dumps(tracked, indent=1)}"
    # and the workflow's own answers are still described with the role they carry
    item = _resolve(
        spec, spec["paths"]["/v1/inbox"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    assert "role" in _resolve(spec, item["properties"]["current_step"]["anyOf"][0])["required"]


def test_the_merged_spec_is_whole(fuzz_stack):
    """Every ``$ref`` resolves, and the sign-in scheme the operations name is there."""
    spec = httpx.get(f"{fuzz_stack}/openapi.json", timeout=30).json()
    refs = _refs(spec)
    assert refs and refs <= {f"#/components/schemas/{n}" for n in spec["components"]["schemas"]}
    named = {
        name
        for item in spec["paths"].values()
        for op in item.values()
        for req in op.get("security", [])
        for name in req
    }
    assert named == {"OAuth2PasswordBearer"} and named <= set(spec["components"].get("securitySchemes", {}))


def test_one_name_two_models_keeps_both_and_points_each_service_at_its_own():
    step = lambda *props: {  # noqa: E731
        "type": "object",
        "properties": {p: {"type": "string"} for p in props},
        "required": list(props),
    }
    ref = {"$ref": "#/components/schemas/StepOut"}
    error = {"type": "object", "properties": {"code": {"type": "string"}}}
    oauth = {
        "OAuth2PasswordBearer": {"type": "oauth2", "flows": {"password": {"scopes": {}, "tokenUrl": "/v1/auth/token"}}}
    }
    answer = lambda: {"get": {"responses": {"200": {"content": {"application/json": {"schema": ref}}}}}}  # noqa: E731
    merged = merge_openapi(
        {
            "intake": {
                "paths": {"/v1/track/{code}": answer(), "/healthz": answer()},
                "components": {
                    "schemas": {"StepOut": step("number", "name"), "ErrorBody": error},
                    "securitySchemes": oauth,
                },
            },
            "workflow": {
                "paths": {"/v1/inbox": answer()},
                "components": {
                    "schemas": {"StepOut": step("number", "name", "role"), "ErrorBody": error},
                    "securitySchemes": oauth,
                },
            },
        }
    )
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"intake_StepOut", "workflow_StepOut", "ErrorBody"}
    assert _resolve(
        merged, merged["paths"]["/v1/track/{code}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )["required"] == ["number", "name"]
    assert (
        "role"
        in _resolve(
            merged, merged["paths"]["/v1/inbox"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        )["required"]
    )
    assert "/healthz" not in merged["paths"] and merged["components"]["securitySchemes"] == oauth


def test_a_422_is_documented_as_the_error_body_every_service_sends():
    error = {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}
    fastapi_422 = {
        "type": "object",
        "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}},
    }
    invalid = {
        "422": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
    }
    merged = merge_openapi(
        {
            "intake": {
                "paths": {"/v1/track/{code}": {"get": {"responses": invalid}}},
                "components": {
                    "schemas": {
                        "ErrorBody": error,
                        "HTTPValidationError": fastapi_422,
                        "ValidationError": {"type": "object"},
                    }
                },
            }
        }
    )
    assert merged["paths"]["/v1/track/{code}"]["get"]["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert set(merged["components"]["schemas"]) == {"ErrorBody"}


def _resolve(spec: dict, schema: dict) -> dict:
    """``schema`` with its ``$ref``s (and an array's items) followed, one level at a time, to the first object."""
    while True:
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif schema.get("type") == "array":
            schema = schema["items"]
        else:
            return schema


def test_every_operation_documents_the_400_for_a_url_with_control_characters():
    """shared.http.RefuseControlCharacters answers before any route: every operation can give that 400."""
    error = {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}
    open311_400 = {"type": "array", "items": {"type": "object"}}
    merged = merge_openapi(
        {
            "dashboard": {
                "paths": {
                    "/v1/register": {"get": {"responses": {"200": {}}}},
                    "/open311/v2/requests": {
                        "get": {"responses": {"400": {"content": {"application/json": {"schema": open311_400}}}}}
                    },
                },
                "components": {"schemas": {"ErrorBody": error}},
            }
        }
    )
    body = {"$ref": "#/components/schemas/ErrorBody"}
    assert merged["paths"]["/v1/register"]["get"]["responses"]["400"]["content"]["application/json"]["schema"] == body
    assert merged["paths"]["/open311/v2/requests"]["get"]["responses"]["400"]["content"]["application/json"][
        "schema"
    ] == {"anyOf": [open311_400, body]}
