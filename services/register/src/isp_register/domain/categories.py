"""The protocol's four register categories, and how the pages name them."""

from __future__ import annotations

from typing import get_args

from isp_schemas.register import RegisterCategory

CATEGORIES: tuple[str, ...] = get_args(RegisterCategory)

CATEGORY_LABELS: dict[str, str] = {
    "child_concern": "In contact with children about whom there is a concern",
    "vulnerable_adult": "Vulnerable adult",
    "risk_to_vulnerable_adults": "Presents a risk to vulnerable adults (including serial domestic abuse perpetrators)",
    "general_high_risk": "Presents a general high risk (e.g. MAPPA, assaults or threats to staff)",
}
