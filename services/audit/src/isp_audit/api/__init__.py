"""The audit API: module-level routers, one per resource."""

from . import deadletters, disclosures, integrity, rejections

routers = (disclosures.router, integrity.router, rejections.router, deadletters.router)
