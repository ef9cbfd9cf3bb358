"""The composition root: the only place that builds engines, producers and the faust app."""

from isp_common.runtime import ServiceRuntime

from . import agents, api, checkpoints, guard, pages
from .config import Settings
from .service import AuditQueries
from .verify import stored_checkpoints


def build(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP audit",
        description="The tamper-evident record of every share, and the queries information-governance officers need.",
    )
    guard.install_triggers(runtime.engine)
    key = checkpoints.ensure_signing_key(settings.resolved_checkpoint_key_dir)
    queries = AuditQueries(runtime.engine, settings)
    agents.register(runtime, settings, key)
    api.install(runtime, queries)
    runtime.api.include_router(pages.router(queries, secure_cookie=settings.environment != "embedded"))
    runtime.api.add_exception_handler(pages.SignInNeeded, pages.on_sign_in_needed)

    async def restore_checkpoint_file() -> None:
        """Lines the file missed (a crash between commit and append) are written again."""
        in_file = set(checkpoints.read_file(settings.checkpoint_file))
        for cp in stored_checkpoints(runtime.engine):
            if cp not in in_file:
                checkpoints.append_to_file(settings.checkpoint_file, cp)

    runtime.on_startup(restore_checkpoint_file)
    return runtime
