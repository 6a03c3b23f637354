"""Config errors in Vietnamese: every message a config file can get, in its Vietnamese form.

Messages are written in English where they arise — pydantic's own ("Input should be …"), the field
validators of the inventory and of each probe's options (``probes/`` must not import ``netmon``), the
YAML reader and the resolver — and translated here when they are shown, matched by pattern the way
gettext matches a msgid: one home for the translation, none of those layers changes. The values a
message quotes (names, paths, addresses) stay as written. tests/netmon/test_config_wording.py runs
every broken fixture under ``--lang vi`` and fails on an English word, so a new message without its
Vietnamese form is caught.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from netmon import oswording
from netmon.i18n import Lang

#: What a duplicate is of, as the resolver names it.
_KINDS = {"slug": "slug", "admin code": "mã hành chính", "service id": "mã dịch vụ",
          "link id": "mã đường truyền", "check id": "mã kiểm tra", "device id": "mã thiết bị"}
#: pydantic's and PyYAML's explanations after the main message (dates, syntax errors).
_DETAILS = [
    (r"month value is outside expected range of 1-12", "tháng phải từ 1 đến 12"),
    (r"day value is outside expected range", "ngày không có trong tháng"),
    (r"input is too short", "quá ngắn"),
    (r"input is too long", "quá dài"),
    (r"invalid character in (\w+)", r"có ký tự không hợp lệ"),
    (r"unexpected extra characters at the end of the input", "có ký tự thừa ở cuối"),
    (r"invalid date separator, expected `-`", "dấu phân cách ngày phải là `-`"),
    (r"found unexpected end of stream", "tệp kết thúc giữa chừng"),
    (r"while scanning a quoted scalar at line (\d+)", r"chuỗi trong dấu nháy mở ở dòng \1 chưa đóng"),
    (r"while scanning a quoted scalar", "chuỗi trong dấu nháy chưa đóng"),
    (r"while scanning a (?:double|single)-quoted scalar", "khi đọc một chuỗi trong dấu nháy"),
    (r"while scanning a block scalar", "khi đọc một khối văn bản (| hoặc >)"),
    (r"while scanning a plain scalar", "khi đọc một giá trị"),
    (r"while scanning an alias", "khi đọc một bí danh (*)"),
    (r"while scanning an anchor", "khi đọc một neo (&)"),
    (r"while scanning for the next token", "khi đọc ký hiệu tiếp theo"),
    (r"while parsing a flow sequence", "khi đọc một danh sách trong []"),
    (r"while parsing a (?:flow|block) node", "khi đọc một giá trị"),
    (r"while constructing a mapping", "khi dựng một ánh xạ"),
    (r"expected ',' or '([}\]])', but got '(.+?)'", r"thiếu ',' hoặc '\1' trước '\2'"),
    (r"expected the node content, but found '(.+?)'", r"thiếu giá trị trước '\1'"),
    (r"did not find expected node content", "thiếu giá trị"),
    (r"did not find expected key", "không thấy khóa ở chỗ cần có khóa (thụt lề sai?)"),
    (r"did not find expected '-' indicator", "không thấy dấu '-' của phần tử danh sách (thụt lề sai?)"),
    (r"expected '<document start>', but found '(.+?)'", r"cần '---' (đầu tài liệu) trước '\1'"),
    (r"expected a comment or a line break, but found '(.+?)'", r"cần chú thích hoặc xuống dòng, gặp '\1'"),
    (r"expected alphabetic or numeric character, but found '(.+?)'", r"cần chữ hoặc số, gặp '\1'"),
    (r"found unknown escape character '(.+?)'", r"ký tự thoát '\1' không hợp lệ"),
    (r"found undefined alias '(.+?)'", r"bí danh '\1' chưa được định nghĩa"),
    (r"found a tab character (?:that violates indentation|where an indentation space is expected)",
     "ký tự tab ở chỗ thụt lề (chỉ được dùng dấu cách)"),
    (r"could not determine a constructor for the tag '(.+?)'", r"không hỗ trợ thẻ '\1'"),
    (r"mapping values are not allowed here", "không được đặt giá trị ánh xạ ở đây (thiếu dấu cách sau ':'?)"),
    (r"while parsing a block mapping", "khi đọc một ánh xạ"),
    (r"while parsing a flow mapping", "khi đọc một ánh xạ trong {}"),
    (r"while parsing a block collection", "khi đọc một danh sách"),
    (r"while scanning a simple key", "khi đọc một khóa"),
    (r"could not find expected ':'", "thiếu dấu ':'"),
    (r"expected <block end>, but found '(.+?)'", r"thụt lề sai trước '\1'"),
    (r"found character '(.+)' that cannot start any token", r"ký tự '\1' không được đứng đầu"),
    (r"'<stream end>'", "cuối tệp"),
    (r" at line (\d+)\)", r" ở dòng \1)"),  # source.parse's "(context at line N)"
    (r"label empty or too long", "có nhãn rỗng hoặc quá dài"),
    (r"label too long", "có nhãn quá dài"),
]
_WHEN = {"date or datetime": "ngày hoặc thời điểm", "datetime": "thời điểm", "date": "ngày", "time": "giờ"}
Replacement = str | Callable[[re.Match[str]], str]
#: English message (anchored pattern) → Vietnamese. The first match wins: specific before general.
_MESSAGES: list[tuple[str, Replacement]] = [
    (r"Value error, (.+)", lambda m: vietnamese(m[1])),  # pydantic's frame around a validator's message
    # alerts/alertmanager.base.yml (netmon/alerting.py)
    (r"Alertmanager's config needs a route: mapping", "cấu hình Alertmanager cần một ánh xạ route:"),
    # netmon run --web-config (netmon/webconfig.py)
    (r"user (.+): password must be a bcrypt hash \(\$2y\$\.\.\.\), not plain text",
     r"người dùng \1: mật khẩu phải là mã băm bcrypt ($2y$...), không phải mật khẩu trần"),
    # scenario files and `netmon lab set` (netmon/lab/scenario.py, the lab daemon)
    (r"unknown device (.+) \(expected SITE/DEVICE(?: of the inventory)?\)",
     r"không có thiết bị \1 (cần SITE/DEVICE trong danh mục)"),
    (r"(\S+) is a (\S+), only a ups runs on battery", r"\1 là \2, chỉ ups mới chạy pin"),
    (r"no such scenario \(presets: (.+)\)", r"không có kịch bản này (các kịch bản có sẵn: \1)"),
    (r"unknown site, site/link or hub (.+)", r"không có điểm, điểm/đường truyền hay trạm tập trung \1"),
    (r"unknown service (\S+) \(inventory services: (.+)\)",
     r"không có dịch vụ \1 (dịch vụ trong danh mục: \2)"),
    (r"unknown site (.+)", r"không có điểm \1"),
    (r"unknown op (.+)", r"không có thao tác \1"),
    # the resolver (netmon/inventory/loader.py)
    (r"unknown key", "khóa không được hỗ trợ"),
    (r"required field missing", "thiếu trường bắt buộc"),
    (r"must be one of (.+), got (.+)", lambda m: f"phải là một trong {_or(m[1])}, nhận được {m[2]}"),
    (r"no thresholds for link type (.+)", r"chưa có ngưỡng cho loại đường truyền \1"),
    (r"no link has role 'primary'", "không có đường truyền nào có vai trò 'primary'"),
    (r"duplicate (slug|admin code|service id|link id|check id|device id) (.+) \(first at line (\d+)\)",
     lambda m: f"{_KINDS[m[1]]} {m[2]} bị trùng (lần đầu ở dòng {m[3]})"),
    (r"unknown hub (.+)", r"không có trạm tập trung \1"),
    (r"coordinates \((.+)\) are outside Vietnam", r"tọa độ (\1) nằm ngoài Việt Nam"),
    (r"(.+) is not an http\(s\) URL with a host", r"\1 không phải địa chỉ http(s) có tên máy chủ"),
    (r"unknown probe (\S+) \(known: (.+)\)", r"không có loại kiểm tra \1 (các loại có: \2)"),
    (r"unknown probe (.+)", r"không có loại kiểm tra \1"),
    (r"timeout (\S+) must be less than interval (\S+)", r"thời gian chờ \1 phải nhỏ hơn chu kỳ \2"),
    (r"timeout (\S+) is shorter than the (\S+) this (\S+) check needs",
     r"thời gian chờ \1 ngắn hơn \2 mà kiểm tra \3 này cần"),
    (r"device id (.+) is also a check id of this site", r"mã thiết bị \1 trùng mã một kiểm tra của điểm này"),
    (r"check id (.+) is this block's own; rename the check",
     r"mã kiểm tra \1 là mã riêng của mục này (kênh bảo mật); hãy đổi tên kiểm tra"),
    (r"the default timeout (\S+) is shorter than the (\S+) an icmp check needs: give the primary link one",
     r"thời gian chờ mặc định \1 ngắn hơn \2 mà kiểm tra icmp cần: hãy thêm kiểm tra icmp cho đường chính"),
    (r"the snmp collector is not installed", "chưa cài bộ thu thập snmp"),
    (r"give either address or link", "ghi đúng một trong hai: address hoặc link"),
    (r"unknown link (.+)", r"không có đường truyền \1"),
    (r"(\S+) for one request and its retries does not fit the (\S+) poll deadline",
     r"\1 cho một lần hỏi và các lần thử lại không vừa hạn đọc \2"),
    (r"give either target or service, not both", "chỉ ghi target hoặc service, không ghi cả hai"),
    (r"unknown service (.+)", r"không có dịch vụ \1"),
    (r"needs a target, a service or a link", "cần target, service hoặc link"),
    # the YAML reader (netmon/inventory/source.py)
    (r"not valid UTF-8 \(byte (\d+)\)", r"không phải UTF-8 hợp lệ (ở vị trí \1)"),
    (r"file is empty", "tệp rỗng"),
    (r"an SMS destination needs its gateway URL", "đích SMS cần URL của cổng SMS (api_url)"),
    (r"invalid YAML value: (.+)", lambda m: f"giá trị YAML không hợp lệ: {_detail(m[1])}"),
    (r"invalid YAML: (.+)", lambda m: f"YAML không hợp lệ: {_detail(m[1])}"),
    (r"nested deeper than (\d+) levels", r"lồng sâu quá \1 cấp"),
    (r"nested too deeply", "lồng quá sâu"),
    (r"more than (\d+) values \(alias bomb\?\)", r"hơn \1 giá trị (bom bí danh YAML?)"),
    (r"YAML merge keys \('<<'\) are not supported", "không hỗ trợ khóa gộp YAML ('<<')"),
    (r"duplicate key", "khóa bị trùng"),
    (r"mapping key must be a scalar, got (.+)", r"khóa phải là một giá trị đơn, nhận được \1"),
    (r"structure is recursive", "cấu trúc tự lặp lại chính nó"),
    (r"cannot read: (.+)", lambda m: f"không đọc được: {_detail(m[1])}"),
    (r"larger than (\d+) bytes", r"lớn hơn \1 byte"),
    (r"no complete data within (\S+) \(a pipe nobody writes to\?\): give a regular file",
     r"không nhận đủ dữ liệu trong \1 (một đường ống không ai ghi?): hãy đưa một tệp thường"),
    # field validators (netmon/inventory/model.py, probes/, collectors/)
    (r"must be greater than 0", "phải lớn hơn 0"),
    (r"must be lower-case ASCII letters, digits and '-' \(e\.g\. (.+)\)",
     r"chỉ gồm chữ ASCII thường, chữ số và '-' (ví dụ \1)"),
    (r"(.+) is not an IPv4 or IPv6 address", r"\1 không phải địa chỉ IPv4 hay IPv6"),
    (r"(.+) is not an IPv(\d) address \((\S+) query\)", r"\1 không phải địa chỉ IPv\2 (truy vấn \3)"),
    (r"give either start and end \(one-off\) or weekdays and time \(recurring\)",
     "ghi start và end (một lần) hoặc weekdays và time (định kỳ)"),
    (r"a one-off window needs a start and an end after it", "khung một lần cần start và end sau start"),
    (r"a recurring window needs weekdays and a time such as (.+)",
     r"khung định kỳ cần weekdays và time, ví dụ \1"),
    (r"hours must be a local time range such as (.+)", r"hours phải là khoảng giờ địa phương, ví dụ \1"),
    (r"expected a duration such as 30s, 500ms or 2m", "cần một khoảng thời gian, ví dụ 30s, 500ms hoặc 2m"),
    (r"(.+) needs a unit: (\S+) or (\S+)", r"\1 cần đơn vị: \2 hoặc \3"),
    (r"not a DNS name: (.+)", lambda m: f"không phải tên DNS: {_detail(m[1])}"),
    (r"body_match needs method GET: a HEAD response has no body",
     "body_match cần method GET: phản hồi HEAD không có nội dung"),
    (r"ca_file has no effect with verify_tls: false; drop one of them",
     "ca_file không có tác dụng khi verify_tls: false; bỏ một trong hai"),
    (r"http target must be an http:// or https:// URL, not (.+)",
     r"đích http phải là địa chỉ http:// hoặc https://, không phải \1"),
    (r"tcp target (.+) has no port: write host:port or set the port option",
     r"đích tcp \1 thiếu cổng: ghi host:port hoặc đặt tùy chọn port"),
    (r"give exactly one of (\w+) or (\w+)", r"ghi đúng một trong hai: \1 hoặc \2"),
    (r"(.+) is not a numeric OID such as (.+)", r"\1 không phải OID dạng số, ví dụ \2"),
    (r"empty SNMPv3 passphrase", "mật khẩu SNMPv3 rỗng"),
    # pydantic's own messages
    (r"Input should be greater than or equal to (.+)", r"phải lớn hơn hoặc bằng \1"),
    (r"Input should be greater than (.+)", r"phải lớn hơn \1"),
    (r"Input should be less than or equal to (.+)", r"phải nhỏ hơn hoặc bằng \1"),
    (r"Input should be less than (.+)", r"phải nhỏ hơn \1"),
    (r"Input should be a finite number", "phải là một số hữu hạn"),
    (r"Input should be a valid integer(, .+)?", "phải là số nguyên"),
    (r"Input should be a valid number(, .+)?", "phải là một số"),
    (r"Input should be a valid string", "phải là chuỗi ký tự"),
    (r"Input should be a valid boolean(, .+)?", "phải là true hoặc false"),
    (r"Input should be a valid list", "phải là danh sách"),
    (r"Input should be a valid dictionary( or instance of \w+)?", "phải là ánh xạ (khóa: giá trị)"),
    (r"Input should be a valid (date or datetime|datetime|date|time), (.+)",
     lambda m: f"phải là {_WHEN[m[1]]} hợp lệ: {_detail(m[2])}"),
    (r"Input should be a valid (date or datetime|datetime|date|time)",
     lambda m: f"phải là {_WHEN[m[1]]} hợp lệ"),
    (r"String should match pattern (.+)", r"chuỗi phải khớp mẫu \1"),
    (r"String should have at least (\d+) characters?", r"chuỗi phải có ít nhất \1 ký tự"),
    (r"String should have at most (\d+) characters?", r"chuỗi chỉ được tối đa \1 ký tự"),
    (r"List should have at least (\d+) items? after validation, not (\d+)",
     r"danh sách phải có ít nhất \1 phần tử, hiện có \2"),
    (r"List should have at most (\d+) items? after validation, not (\d+)",
     r"danh sách chỉ được tối đa \1 phần tử, hiện có \2"),
    (r"Input should be (.+)", lambda m: f"phải là {_or(m[1])}"),
]
_SUGGESTION = re.compile(r" \(did you mean (.+)\?\)$")
_COMPILED = [(re.compile(f"^{pattern}$", re.DOTALL), vi) for pattern, vi in _MESSAGES]
_COMPILED_DETAILS = [(re.compile(pattern), vi) for pattern, vi in [*_DETAILS, *oswording.PHRASES]]


def _or(choices: str) -> str:
    return re.sub(r"(?<=')( or |, or )(?=')", " hoặc ", re.sub(r"(?<=\d) or (?=\d)", " hoặc ", choices))


def _detail(text: str) -> str:
    for pattern, vi in _COMPILED_DETAILS:
        text = pattern.sub(vi, text)
    return text


def vietnamese(message: str) -> str:
    """``message`` in Vietnamese; the English text itself when no form is known (a test prevents that)."""
    suggestion = ""
    if found := _SUGGESTION.search(message):
        message, suggestion = message[: found.start()], f" (có phải là {found[1]}?)"
    for pattern, vi in _COMPILED:
        if matched := pattern.match(message):
            return (vi(matched) if callable(vi) else matched.expand(vi)) + suggestion
    return message + suggestion


def reason(text: str, lang: Lang) -> str:
    """An OS or parser explanation (``No such file or directory``) in ``lang``: what follows the colon
    of a message that names a file, for the commands that word such messages themselves."""
    return _detail(text) if lang == "vi" else text


def say(message: str, lang: Lang) -> str:
    """A config error's message in ``lang``."""
    return vietnamese(message) if lang == "vi" else message
