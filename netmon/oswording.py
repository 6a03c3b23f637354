"""The OS's and the network libraries' own explanations in the user's language: what follows the colon
of a message naming a file, a port or a peer (``No such file or directory``, ``Connection refused``).

Their one home. The inventory's config wording (`netmon.inventory.wording`) applies them with its own
(pydantic's and PyYAML's phrases); the running edge agent, which must not load the inventory (its memory
budget: bench/agent_memory.py, tests/agent/test_resolve.py), words its delivery failures with them
directly. Patterns are compiled on first use (``re``'s cache), so an agent whose deliveries never fail
pays nothing for them.
"""

from __future__ import annotations

import re
import ssl

from netmon.i18n import Lang
from probes import noroute

#: English phrase (a pattern) → Vietnamese, applied in order.
PHRASES: tuple[tuple[str, str], ...] = (
    *((re.escape(english), vietnamese) for english, vietnamese in noroute.EXPLAINED.values()),
    (r"No such file or directory", "không có tệp này"),
    (r"Permission denied", "không đủ quyền"),  # to read a file, write one or bind a port below 1024
    (r"Is a directory", "đây là thư mục"),
    (r"Not a directory", "không phải thư mục"),
    (r"File exists", "đã có một tệp cùng tên"),
    (r"Address already in use", "địa chỉ đang được dùng"),
    (r"Cannot assign requested address", "máy này không có địa chỉ đó"),
    (r"file is not a database", "tệp không phải cơ sở dữ liệu SQLite"),
    (r"database disk image is malformed", "tệp cơ sở dữ liệu bị hỏng"),
    # transport errors of the HTTP clients (httpx, niquests) and the OS's socket errors
    (r"(?i)connection refused", "kết nối bị từ chối"),
    (r"Connection reset by peer", "kết nối bị đầu bên kia ngắt"),
    (r"(?i)(?:the read operation |read |connect )?timed out", "hết thời gian chờ"),
    (r"Name or service not known", "không phân giải được tên máy"),
    (r"Temporary failure in name resolution", "tạm thời không phân giải được tên máy"),
    (r"No route to host", "không có đường tới máy"),
    (r"Network is unreachable", "không tới được mạng"),
    (r"All connection attempts failed", "mọi lần thử kết nối đều thất bại"),
    (r"Server disconnected without sending a response\.?", "máy chủ ngắt kết nối mà không trả lời"),
    (r"Expecting value: line \d+ column \d+ \(char \d+\)", "câu trả lời không phải JSON"),
)


def cause(exc: BaseException) -> str:
    """What went wrong under a library's wrappers, in English: the innermost OS error's words (this
    machine's route where it refused, `probes.noroute`), else the exception's own text. httpx says "All
    connection attempts failed" alike for a closed port and a blackholed address; its cause says which."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):  # httpx's ReadTimeout and its kin have no text of their own
            return "timed out"
        if isinstance(seen, ssl.SSLError):  # its errno is OpenSSL's code, not the OS's
            return str(seen)
        if isinstance(seen, OSError) and seen.errno:
            return noroute.explain(seen)
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def error(exc: OSError, lang: Lang) -> str:
    """Why ``exc`` happened (reading or writing a file, binding a port), in the OS's words, in ``lang``."""
    return reason(exc.strerror or str(exc), lang)


def reason(text: str, lang: Lang) -> str:
    """``text``, an OS or network library's explanation, in ``lang`` (phrases without a Vietnamese form
    stay as written)."""
    if lang == "vi":
        for pattern, vietnamese in PHRASES:
            text = re.sub(pattern, vietnamese, text)
    return text
