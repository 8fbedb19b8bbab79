"""Connection strings are masked wherever they are printed or logged (contract §3): one
function finds every `scheme://user:password@` in a text and hides the password."""

from __future__ import annotations

import re

# user info is everything between `//` and the last `@` before the host; the password is the
# part after the first `:` of it. `[^\s/@]` keeps the match inside one URL.
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s:/@]*):[^\s/]*@")


def mask_urls(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    return _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)
