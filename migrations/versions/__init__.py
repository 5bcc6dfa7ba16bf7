"""Alembic revisions. A package only so that setuptools ships it cleanly inside the wheel;
Alembic loads each file by path and skips this one."""
