"""Test-only runner: the command line with a fake exchange in place of the real one.

CRYPTO_TRADER_TEST_SOURCE names a factory, `module:function`, that replaces
`download.open_source` before the command runs; the arguments are the command
line's. The product has no such switch: only tests start this script.
"""

from __future__ import annotations

import importlib
import os
import sys


def main() -> int:
    module_name, _, function_name = os.environ["CRYPTO_TRADER_TEST_SOURCE"].partition(
        ":"
    )
    factory = getattr(importlib.import_module(module_name), function_name)

    from crypto_trader.cli.main import main as cli_main
    from crypto_trader.market_data import download

    download.open_source = factory
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
