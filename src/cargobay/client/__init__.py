"""The ``cargobay publish|fetch|ls|rm`` client (design: shared/spec/beyond-gitlab.md §1;
user guide: docs/cli.md). It speaks GitLab's generic packages API and uses Cargobay's
extensions only once a server answered with ``X-Cargobay-Version``. It imports none of the
server stack (SQLAlchemy, granian, boto3, Starlette): tests/unit/test_client_imports.py."""
