"""The register's own route dependencies: its context and its one caller, the DSL."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from isp_common.deps import Caller, RuntimeDep, require_roles

from ..context import Register


def register_of(runtime: RuntimeDep) -> Register:
    context = runtime.context
    assert isinstance(context, Register)
    return context


RegisterDep = Annotated[Register, Depends(register_of)]
Dsl = Annotated[Caller, Depends(require_roles("dsl"))]
