"""Where the files the components read at run time are: the Lambda sources and the web app.

In the repository they are the `lambdas/` and `apps/` folders at its root. An installed wheel
(`pip install <repository>`) carries the same folders inside the package, as
`components/_files/lambdas/` and `components/_files/apps/` (setup.py maps them there), so a
Pulumi program that uses the components as a library finds them without a checkout. Every
component resolves these files through this module, never through its own `__file__`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_INSTALLED = _PACKAGE / "_files"

# The installed copy when there is one (a wheel), else the repository the package sits in.
ROOT = _INSTALLED if _INSTALLED.is_dir() else _PACKAGE.parent
# A Lambda function's code is lambdas/<code>/app.py (entry point app.handler).
LAMBDAS_DIR = ROOT / "lambdas"
# The multi-tier web app: app.py, requirements.txt, web.service, user-data.sh.
WEB_APP_DIR = ROOT / "apps" / "web"
