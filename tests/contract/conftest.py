"""The contract suites run every adapter against the same local fake servers its own tests use.

Those fakes and their helpers live in `tests/adapters/<name>/`, which are plain directories
whose modules import one another by bare name (``from fake_slack import …``); they go on
`sys.path` here, as pytest puts them there for the adapter tests, so both share one module.
"""

from __future__ import annotations

import sys
from pathlib import Path

ADAPTER_TESTS = Path(__file__).parent.parent / "adapters"

for _folder in ("slack", "dingtalk", "wecom", "feishu", "deploy", "notify", "metrics"):
    _path = str(ADAPTER_TESTS / _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)
