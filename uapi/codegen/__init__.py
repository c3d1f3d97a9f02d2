"""Client generation from the OpenAPI document: `uapi generate --lang python|typescript`.

Pipeline: `spec` loads the document and resolves local `$ref`s; `schemas` and `model`
read it into a small intermediate model (`model.Api`: operations, schema definitions,
the OAuth token endpoint); `generate` renders one Jinja2 template per output file
from `templates/<lang>/`, with language spellings from `lang_python` / `lang_typescript`
and README call examples from `examples`; `archive` packs the result for pip and npm.

What the generator refuses, each reported at its JSON pointer (all problems at once):
schema keywords it cannot express (`not`, `discriminator`, `nullable: true`, unknown
keywords), `oneOf`/`anyOf` members not told apart by JSON kind, `format: binary`,
external `$ref`s, parameters in cookies, with `content`, non-default `style`/`explode`,
`allowReserved`/`allowEmptyValue`, objects as parameters, reserved header parameters,
request bodies other than JSON or form-encoded, responses other than JSON (bodiless
ones are fine), 1xx/3xx and range (`2XX`) statuses, 2xx answers of different schemas,
a bodiless 2xx beside a body whose type has no empty value, operations without an
operationId or whose names collide once converted, per-path/operation `servers`, and
security requirements none of which is a bearer token, OAuth 2.0 or an API key in a
header or query. Validation-only keywords (pattern, minimum, ...) and annotations are
left to the server; OpenAPI `callbacks` describe requests the server makes and are
ignored by clients.
"""
