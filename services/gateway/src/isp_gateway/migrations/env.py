"""Alembic environment for this service (generated; see isp_common.migrations)."""

from isp_common.migrations import run_environment

run_environment("isp_gateway")
