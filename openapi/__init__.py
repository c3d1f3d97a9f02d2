"""The contract as package data: pyproject.toml installs this folder as `uapi.openapi`.

Designers edit `uapi.yaml` here; the server and the tools read it through
`uapi.package_data.SPEC`, so an installed wheel finds it without this checkout.
"""
