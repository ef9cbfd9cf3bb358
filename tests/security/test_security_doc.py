"""docs/security.md keeps two generated tables: the Kafka ACLs (``python -m isp_common.acls --format
markdown`` on the partnership directory) and the index of issue 11's findings and their tests
(:mod:`.test_index`). Each must equal what generates it; ``python -m tests.security.test_security_doc
--write`` writes both."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from isp_common import acls

from .test_index import markdown as findings_markdown

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"


def generated() -> dict[str, str]:
    """Each generated section of the page by its marker name."""
    return {
        "acls": acls.markdown(acls.acls_for(ROOT / "deploy" / "directory.json")),
        "findings": findings_markdown(),
    }


def _section(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:begin -->\n)(.*?)(<!-- {name}:end -->)", re.DOTALL)


def written(text: str, name: str) -> str:
    found = _section(name).search(text)
    assert found is not None, f"docs/security.md has no <!-- {name}:begin/end --> markers"
    return found.group(2).strip()


def test_the_acl_table_is_the_generated_one() -> None:
    assert written(DOC.read_text(), "acls") == generated()["acls"], (
        "run: python -m tests.security.test_security_doc --write"
    )


def test_the_findings_index_is_the_generated_one() -> None:
    assert written(DOC.read_text(), "findings") == generated()["findings"], (
        "run: python -m tests.security.test_security_doc --write"
    )


def write() -> None:
    text = DOC.read_text()
    for name, table in generated().items():
        text = _section(name).sub(lambda m, table=table: f"{m.group(1)}{table}\n{m.group(3)}", text)
    DOC.write_text(text)


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        print(generated()["acls"])
