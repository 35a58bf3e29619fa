"""Every example in the OpenAPI document is valid against its schema.

The examples are what API users copy; generators and the interactive docs
show them. Checked with openapi-schema-validator (the OpenAPI 3.1 dialect of
JSON Schema), independently of the server's own code.
"""

from openapi_schema_validator import OAS31Validator

METHODS = ("get", "head", "post", "put", "patch", "delete")


def _validator(document: dict, schema: dict) -> OAS31Validator:
    # `#/components/...` references resolve against the root schema: give it
    # the document's components (an unknown keyword to JSON Schema itself).
    return OAS31Validator({**schema, "components": document["components"]})


def _media(document: dict):
    """(where, media type object) for every request and response body."""
    for path, item in document["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            body = op.get("requestBody", {})
            for ctype, media in body.get("content", {}).items():
                yield f"{method.upper()} {path} request {ctype}", media
            for status, response in op["responses"].items():
                if "$ref" in response:
                    continue  # shared components, checked below
                for ctype, media in response.get("content", {}).items():
                    yield f"{method.upper()} {path} {status} {ctype}", media
    for name, response in document["components"].get("responses", {}).items():
        for ctype, media in response.get("content", {}).items():
            yield f"components/responses/{name} {ctype}", media


def test_every_body_example_matches_its_schema(document):
    checked = 0
    for where, media in _media(document):
        examples = []
        if "example" in media:
            examples.append(("example", media["example"]))
        for name, example in media.get("examples", {}).items():
            examples.append((name, example["value"]))
        assert examples, f"{where}: no example"
        validator = _validator(document, media["schema"])
        for name, value in examples:
            errors = [e.message for e in validator.iter_errors(value)]
            assert not errors, f"{where} ({name}): {errors}"
            checked += 1
    assert checked > 50, checked


def test_error_schema_examples_cover_every_code(document):
    schema = document["components"]["schemas"]["ErrorBody"]
    validator = _validator(document, schema)
    codes = set()
    for example in schema["examples"]:
        errors = [e.message for e in validator.iter_errors(example)]
        assert not errors, f"{example}: {errors}"
        codes.add(example["error"]["code"])
    assert codes >= {
        "BOOKING_CONFLICT", "INVALID_SERVICE", "RATE_LIMITED", "UNAUTHORIZED",
        "VALIDATION_ERROR", "NOT_FOUND", "INVALID_STATE", "ALREADY_EXISTS",
        "IDEMPOTENCY_KEY_REUSED", "PAYLOAD_TOO_LARGE", "METHOD_NOT_ALLOWED",
        "INTERNAL", "UNAVAILABLE",
    }, codes
