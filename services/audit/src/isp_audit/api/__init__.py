"""The IG API: module-level routers, one per resource."""

from . import disclosures, integrity

routers = (disclosures.router, integrity.router)
