"""Client generation from the OpenAPI document: `uapi generate --lang python|typescript`.

Pipeline: `spec` loads the document and resolves local `$ref`s; `schemas` and `model`
read it into a small intermediate model (`model.Api`: operations, schema definitions,
the OAuth token endpoint); `generate` renders one Jinja2 template per output file
from `templates/<lang>/`, with language spellings from `lang_python` / `lang_typescript`
and README call examples from `examples`; `archive` packs the result for pip and npm.

Nothing valid is refused: what a client cannot express is skipped (one operation,
parameter or response) or degraded (a schema to "any JSON value"), each with a warning at
its JSON pointer in `Api.warnings` (external or dangling `$ref`s, `allOf` of non-object
members, unknown types, undeclared path parameters, reserved header parameters,
requirements of several credentials at once, mutual TLS). Validation-only keywords
(pattern, minimum, ...) are left to the server; OpenAPI `callbacks` and `webhooks`
describe requests the server makes and are ignored by clients. README.md's section
"`uapi generate` for any OpenAPI document" lists them for users.
"""
