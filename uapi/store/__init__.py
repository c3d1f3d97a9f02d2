"""Where calls and tokens are kept.

`uapi.store.port`: the Protocols and value types the domain uses (no SQLAlchemy);
`uapi.store.sql`: their SQLite and PostgreSQL implementation, for the composition roots.
This package imports neither, so importing the port never loads SQLAlchemy.
"""
