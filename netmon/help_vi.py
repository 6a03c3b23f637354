"""`netmon … --help` in Vietnamese: each help text of every command, option and argparse's own words.

Commands write their help in English where they declare their options; under ``--lang vi`` the parser
swaps each text for its form here, keyed by the English text as gettext keys a msgid (one home for the
translation, and a command module stays readable). tests/netmon/test_help_vi.py fails on a help text
with no Vietnamese form and on any English word in ``--lang vi … --help``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

#: argparse's own words (Python 3.11).
ARGPARSE = {
    "positional arguments": "tham số vị trí",
    "options": "tùy chọn",
    "show this help message and exit": "in hướng dẫn này rồi thoát",
    "show program's version number and exit": "in phiên bản của chương trình rồi thoát",
}

HELP = {
    "Link, service and equipment monitoring for Son La's commune service centers.":
        "Giám sát đường truyền, dịch vụ và thiết bị của các trung tâm phục vụ hành chính công cấp xã tỉnh "
        "Sơn La.",
    "language of verdicts, summaries and reports (default: $NETMON_LANG or en)":
        "ngôn ngữ của kết luận, tóm tắt và báo cáo (mặc định: $NETMON_LANG hoặc en)",
    "DEBUG, INFO, WARNING or ERROR (default: INFO for services, WARNING for interactive commands)":
        "DEBUG, INFO, WARNING hoặc ERROR (mặc định: INFO cho dịch vụ chạy nền, WARNING cho lệnh tương tác)",
    # the commands
    "edge agent at a service center: measure inside-out, buffer, deliver":
        "tác tử biên tại trung tâm: đo từ trong ra, lưu đệm, gửi về",
    "alerting configuration derived from the inventory": "cấu hình cảnh báo sinh từ danh mục",
    "generate the Grafana dashboards, or upload them to a Grafana":
        "sinh các bảng điều khiển Grafana, hoặc tải chúng lên một Grafana",
    "simulated province (province-day) + netmon run + /metrics; Ctrl-C ends":
        "tỉnh mô phỏng (province-day) + netmon run + /metrics; Ctrl-C để dừng",
    "the simulated province: namespaces, impaired links, services (root)":
        "tỉnh mô phỏng: không gian mạng, đường truyền bị làm xấu, dịch vụ (cần root)",
    "ICMP burst to any target with the probe table and verdict":
        "gửi một loạt gói ICMP tới một đích bất kỳ, in bảng đo và kết luận",
    "diagnose one site now: verdict table, path trace, one-line diagnosis":
        "chẩn đoán ngay một điểm: bảng kết luận, dò đường, chẩn đoán một dòng",
    "availability and outage report for planners (or: report upgrade SITE)":
        "báo cáo độ sẵn sàng và các lần mất kết nối cho người lập kế hoạch (hoặc: report upgrade SITE)",
    "run the monitoring service (scheduled probes + /metrics)":
        "chạy dịch vụ giám sát (kiểm tra theo lịch + /metrics)",
    "equipment health of one site now: one row per SNMP device":
        "tình trạng thiết bị của một điểm ngay bây giờ: mỗi thiết bị SNMP một dòng",
    "traceroute to any target, hops named from the inventory":
        "dò đường tới một đích bất kỳ, các chặng được đặt tên theo danh mục",
    "check an inventory file; exit 1 listing every error":
        "kiểm tra một tệp danh mục; thoát với mã 1 và liệt kê mọi lỗi",
    # netmon agent
    "run the agent (config: site, central endpoint, credential file)":
        "chạy tác tử (cấu hình: điểm, địa chỉ trung tâm, tệp khóa truy cập)",
    "make a new agent token and print its central-side entry":
        "tạo mã truy cập mới cho tác tử và in mục cần thêm ở phía trung tâm",
    "each service from the data center and from the center, side by side":
        "từng dịch vụ nhìn từ trung tâm dữ liệu và từ trung tâm xã, đặt cạnh nhau",
    "outages of the history with the side that saw them":
        "các lần mất kết nối trong lịch sử và phía đã thấy chúng",
    "agent config (default %(default)s)": "cấu hình tác tử (mặc định %(default)s)",
    "agent name (usually the site's slug)": "tên tác tử (thường là slug của điểm)",
    "the site slug the agent may write for": "slug của điểm mà tác tử được phép ghi thay",
    "file to write the token to (created 0600)": "tệp để ghi mã truy cập (tạo với quyền 0600)",
    "site slug": "slug của điểm",
    "Prometheus URL (default %(default)s)": "địa chỉ Prometheus (mặc định %(default)s)",
    "averaging window, PromQL duration (default %(default)s)":
        "khoảng lấy trung bình, khoảng thời gian PromQL (mặc định %(default)s)",
    "one site only": "chỉ một điểm",
    "history store (default as netmon run)": "kho lịch sử (mặc định như netmon run)",
    "how far back (default %(default)s days)": "lùi lại bao xa (mặc định %(default)s ngày)",
    # netmon alerts
    "write alerts/generated/*.yml and alerts/alertmanager.yml":
        "ghi alerts/generated/*.yml và alerts/alertmanager.yml",
    "Alertmanager webhooks to Telegram, Zalo OA, SMS": "webhook của Alertmanager tới Telegram, Zalo OA, SMS",
    "replay the alert rules over a period of the history store":
        "chạy lại các luật cảnh báo trên một khoảng thời gian của kho lịch sử",
    "inventory file (default: config/communes.yaml)": "tệp danh mục (mặc định: config/communes.yaml)",
    "directory holding alertmanager.base.yml (default: ./alerts, else the shipped one)":
        "thư mục chứa alertmanager.base.yml (mặc định: ./alerts, nếu không có thì bộ đi kèm)",
    "write nothing; exit 1 if a generated file is missing or out of date (for CI)":
        "không ghi gì; thoát với mã 1 nếu một tệp sinh ra bị thiếu hoặc đã cũ (cho CI)",
    "destinations per Alertmanager receiver (see docs/runbook.md#channels)":
        "nơi nhận cho từng receiver của Alertmanager (xem docs/runbook.md#channels)",
    "listen address (default 127.0.0.1:9087)": "địa chỉ lắng nghe (mặc định 127.0.0.1:9087)",
    "YYYY-MM-DD, ISO time or 7d (ago)": "YYYY-MM-DD, thời điểm ISO hoặc 7d (trước đây)",
    "end, same forms (default: now)": "điểm cuối, cùng các dạng (mặc định: bây giờ)",
    "history store (default: the report's)": "kho lịch sử (mặc định: kho của báo cáo)",
    "rules to replay: a directory laid out like alerts/ (default: ./alerts, else the shipped one)":
        "các luật cần chạy lại: một thư mục sắp xếp như alerts/ (mặc định: ./alerts, nếu không có "
        "thì bộ đi kèm)",
    # netmon dashboards
    "write dashboards/*.json from netmon/dashboards (the code)":
        "ghi dashboards/*.json từ netmon/dashboards (mã nguồn)",
    "upload the dashboards to Grafana (idempotent: updates by uid)":
        "tải các bảng điều khiển lên Grafana (chạy lại không sao: cập nhật theo uid)",
    "output directory (default: dashboards/)": "thư mục ghi ra (mặc định: dashboards/)",
    "write nothing; exit 1 if the JSON is stale": "không ghi gì; thoát với mã 1 nếu tệp JSON đã cũ",
    "Grafana base URL, e.g. http://127.0.0.1:3000": "địa chỉ gốc của Grafana, ví dụ http://127.0.0.1:3000",
    "file holding a service-account token (Editor role)":
        "tệp chứa mã truy cập của tài khoản dịch vụ (vai trò Editor)",
    "folder to put them in (default: Sơn La netmon)": "thư mục để đặt chúng vào (mặc định: Sơn La netmon)",
    "dashboards directory (default: dashboards/)": "thư mục bảng điều khiển (mặc định: dashboards/)",
    # netmon demo
    "scenario preset or file (default: province-day)": "kịch bản có sẵn hoặc tệp (mặc định: province-day)",
    "address for /metrics (default 127.0.0.1:9813)": "địa chỉ cho /metrics (mặc định 127.0.0.1:9813)",
    "monitor the lab that is already up (its own scenario) and leave it up on exit":
        "giám sát tỉnh mô phỏng đang chạy (với kịch bản của nó) và để nó chạy tiếp khi thoát",
    "the live board (default: when the output is a terminal); --no-board prints the guide of commands "
    "instead":
        "bảng theo dõi trực tiếp (mặc định: khi đầu ra là cửa sổ dòng lệnh); --no-board thì in hướng dẫn "
        "các lệnh",
    # netmon lab
    "build the province from the inventory and start its daemon":
        "dựng tỉnh từ danh mục và khởi động tiến trình nền",
    "remove everything the lab made (also after a crash)":
        "gỡ mọi thứ tỉnh mô phỏng đã tạo (kể cả sau khi bị sập)",
    "what is down, impaired and overridden right now":
        "những gì đang mất, bị làm xấu hoặc bị thay đổi lúc này",
    "change the running scenario, e.g. `set chieng-mung loss=0.2 delay=80ms`":
        "thay đổi kịch bản đang chạy, ví dụ `set chieng-mung loss=0.2 delay=80ms`",
    "undo every `lab set`": "hủy mọi lệnh `lab set`",
    "restart a device's SNMP agent, e.g. `reboot chieng-mung/cpe`":
        "khởi động lại tác tử SNMP của một thiết bị, ví dụ `reboot chieng-mung/cpe`",
    "preset (calm, province-day, storm) or YAML file":
        "kịch bản có sẵn (calm, province-day, storm) hoặc tệp YAML",
    "print the daemon's full status as JSON": "in toàn bộ trạng thái của tiến trình nền dưới dạng JSON",
    "instead: the delay path's last releases of the packets to or from ADDRESS (and PORT), "
    "and those it holds now":
        "thay vào đó: các lần thả gần nhất của đường làm trễ cho gói tin đến hoặc từ ADDRESS "
        "(và PORT), và những gói nó đang giữ",
    "SITE (its primary link), SITE/LINK, HUB, a service id, dns, or SITE/DEVICE":
        "SITE (đường truyền chính của nó), SITE/LINK, HUB, mã một dịch vụ, dns, hoặc SITE/DEVICE",
    "delay, jitter, loss, down, flap (links); status, latency, cert_days (services); on_battery (a UPS)":
        "delay, jitter, loss, down, flap (đường truyền); status, latency, cert_days (dịch vụ); "
        "on_battery (UPS)",
    "SITE/DEVICE of the inventory": "SITE/DEVICE trong danh mục",
    # netmon ping / probe / trace / snmp
    "TARGET is an address, a host name with its domain, or a site (slug, Vietnamese name with or without "
    "diacritics, admin code: its primary link's CPE) or hub of the inventory. Thresholds: those of "
    "--link-type, else of the inventory link whose CPE is TARGET, else any loss is degraded. Exit: 0 ok, "
    "1 degraded, 2 down, 3 usage error.":
        "TARGET là địa chỉ IP, tên máy có tên miền, hoặc một điểm (slug, tên tiếng Việt có hoặc không "
        "dấu, mã hành chính: CPE của đường truyền chính) hay trạm tập trung trong danh mục. Ngưỡng: của "
        "--link-type, nếu không thì của đường truyền trong danh mục có CPE là TARGET, nếu không thì mất gói "
        "bất kỳ là suy giảm. Mã thoát: 0 tốt, 1 suy giảm, 2 mất kết nối, 3 dùng sai lệnh.",
    "judge against this link type": "đánh giá theo loại đường truyền này",
    "print one JSON document (schema: docs/cli.md)": "in một tài liệu JSON (lược đồ: docs/cli.md)",
    "echoes per ICMP burst": "số gói echo mỗi loạt ICMP",
    "live table, rerun every SECONDS (default 2); Ctrl-C stops":
        "bảng trực tiếp, chạy lại sau mỗi SECONDS giây (mặc định 2); Ctrl-C để dừng",
    "SITE is a slug, a Vietnamese name with or without diacritics, an admin code or a hub id. Exit: 0 ok, "
    "1 degraded, 2 down, 3 usage or configuration error.":
        "SITE là slug, tên tiếng Việt có hoặc không dấu, mã hành chính hoặc mã trạm tập trung. Mã thoát: "
        "0 tốt, 1 suy giảm, 2 mất kết nối, 3 dùng sai lệnh hoặc lỗi cấu hình.",
    "run only this check id": "chỉ chạy kiểm tra có mã này",
    "history store for the site's own baseline (default: $NETMON_HISTORY; optional)":
        "kho lịch sử cho mức nền của chính điểm đó (mặc định: $NETMON_HISTORY; không bắt buộc)",
    "SITE is a slug, a Vietnamese name with or without diacritics or an admin code. Exit: 0 healthy, "
    "1 warning, 2 a device down, 3 usage error.":
        "SITE là slug, tên tiếng Việt có hoặc không dấu hoặc mã hành chính. Mã thoát: 0 tốt, 1 cần xem, "
        "2 có thiết bị mất kết nối, 3 dùng sai lệnh.",
    "print the rows as one JSON list": "in các dòng thành một danh sách JSON",
    "TARGET as for `netmon ping`: an address, a host name with its domain, or a site (its primary link's "
    "CPE) or hub of the inventory. Exit: 0 target reached, 2 not reached, 3 usage error.":
        "TARGET như với `netmon ping`: địa chỉ IP, tên máy có tên miền, hoặc một điểm (CPE của đường truyền "
        "chính) hay trạm tập trung trong danh mục. Mã thoát: 0 tới được đích, 2 không tới được, 3 dùng sai "
        "lệnh.",
    # netmon report
    "`netmon report`: availability, outages and link quality for planners; `netmon report upgrade SITE`\n"
    "compares a link before and after its ``since`` date. Reads the history store (default) or Prometheus.\n":
        "`netmon report`: độ sẵn sàng, các lần mất kết nối và chất lượng đường truyền cho người lập kế "
        "hoạch; `netmon report upgrade SITE` so sánh một đường truyền trước và sau ngày ``since`` của nó. "
        "Đọc kho lịch sử (mặc định) hoặc Prometheus.\n",
    "'upgrade SITE': compare the site's link before/after its `since` date; 'contract', 'incidents', "
    "'filing', 'reclassify OUTAGE': the planners' filings (docs/report.md)":
        "'upgrade SITE': so sánh đường truyền của điểm trước/sau ngày `since`; 'contract', 'incidents', "
        "'filing', 'reclassify OUTAGE': các hồ sơ cho người lập kế hoạch (docs/report.md)",
    "history store (default: var/netmon/history.db)": "kho lịch sử (mặc định: var/netmon/history.db)",
    "Prometheus base URL for --source prometheus": "địa chỉ gốc của Prometheus cho --source prometheus",
    "start: YYYY-MM-DD, ISO time (local Asia/Ho_Chi_Minh if no offset) or Nd ago (default: 30d)":
        "bắt đầu: YYYY-MM-DD, thời điểm ISO (giờ Asia/Ho_Chi_Minh nếu không ghi múi giờ) hoặc N ngày trước "
        "(mặc định: 30d)",
    "write to this file instead of stdout": "ghi vào tệp này thay vì đầu ra chuẩn",
    "how many worst sites to list (default 10)": "liệt kê bao nhiêu điểm kém nhất (mặc định 10)",
    "below this share of the window observed, availability is 'insufficient data' (default 90)":
        "nếu quan sát được ít hơn tỉ lệ này của khoảng thời gian, độ sẵn sàng là 'không đủ dữ liệu' "
        "(mặc định 90)",
    "upgrade: link id (default: the primary link)": "upgrade: mã đường truyền (mặc định: đường truyền chính)",
    "upgrade: days compared on each side (default 90)": "upgrade: số ngày so sánh mỗi bên (mặc định 90)",
    "probes whose failures make outages, comma-separated (default icmp)":
        "các loại kiểm tra mà lỗi của chúng tính là mất kết nối, cách nhau bằng dấu phẩy (mặc định icmp)",
    "preset period instead of --from/--to: 2026 (year), 2026-H1 (half), 2026-Q3 (quarter)":
        "kỳ có sẵn thay cho --from/--to: 2026 (năm), 2026-H1 (nửa năm), 2026-Q3 (quý)",
    "leave out interruptions shorter than this, e.g. 2m (default: accounting.ignore_shorter_than)":
        "bỏ qua các lần gián đoạn ngắn hơn mức này, ví dụ 2m (mặc định: accounting.ignore_shorter_than)",
    "filings (contract, incidents, filing, reclassify)":
        "hồ sơ cho người lập kế hoạch (contract, incidents, filing, reclassify)",
    "accounting rules (every report; docs/report.md)": "quy tắc tính (mọi báo cáo; docs/report.md)",
    "count only the service period (accounting.service_period, default Mon–Fri 07:00–17:00 "
    "Asia/Ho_Chi_Minh, Vietnamese public holidays excluded)":
        "chỉ tính giờ phục vụ (accounting.service_period, mặc định thứ Hai–thứ Sáu 07:00–17:00 giờ "
        "Asia/Ho_Chi_Minh, trừ các ngày lễ của Việt Nam)",
    "reclassify: the new cause": "reclassify: nguyên nhân mới",
    "reclassify: why (kept in the audit trail)": "reclassify: lý do (lưu trong nhật ký kiểm tra)",
    "reclassify: who decides (default $NETMON_USER or the login name)":
        "reclassify: người quyết định (mặc định $NETMON_USER hoặc tên đăng nhập)",
    "reclassify: VNPT ticket number": "reclassify: số phiếu sự cố VNPT",
    "reclassify: actions taken to restore service": "reclassify: các việc đã làm để khôi phục dịch vụ",
    # netmon run
    "address for /metrics, /-/healthy, /-/reload (default: 127.0.0.1:9813)":
        "địa chỉ cho /metrics, /-/healthy, /-/reload (mặc định: 127.0.0.1:9813)",
    "TLS and basic auth for every endpoint (exporter-toolkit web-config format)":
        "TLS và xác thực cơ bản cho mọi địa chỉ (định dạng web-config của exporter-toolkit)",
    "allow POST /-/reload on a non-loopback listen address (always allowed on loopback)":
        "cho phép POST /-/reload trên địa chỉ lắng nghe ngoài loopback (trên loopback luôn được phép)",
    "when started as root: become this user once sockets are open, keep only CAP_NET_RAW":
        "khi chạy bằng root: chuyển sang người dùng này sau khi mở socket, chỉ giữ CAP_NET_RAW",
    "checks running at once (default 256)": "số kiểm tra chạy cùng lúc (mặc định 256)",
    "run only shard I of N of the checks (stable hash of site + check id)":
        "chỉ chạy phần I trong N phần của các kiểm tra (băm ổn định theo điểm + mã kiểm tra)",
    "history store for `netmon report` (default: $NETMON_DATA_DIR/history.db, else var/netmon/history.db)":
        "kho lịch sử cho `netmon report` (mặc định: $NETMON_DATA_DIR/history.db, nếu không thì "
        "var/netmon/history.db)",
    "do not keep the history store": "không lưu kho lịch sử",
    "probes whose failures open outages in the history, comma-separated (default icmp)":
        "các loại kiểm tra mà lỗi của chúng mở một lần mất kết nối trong lịch sử, cách nhau bằng dấu phẩy "
        "(mặc định icmp)",
    "how often rollups and observed time are written to the history (default 60s): what a killed netmon may "
    "lose of them, read as not observed; outages are written within 1s":
        "bao lâu ghi số liệu tổng hợp và thời gian quan sát vào lịch sử một lần (mặc định 60s): phần netmon "
        "bị buộc dừng có thể mất, được tính là không quan sát; sự cố mất kết nối được ghi trong vòng 1s",
    "accept edge agents (netmon agent) listed in FILE: endpoint, TLS, remote-write URL":
        "nhận các tác tử biên (netmon agent) ghi trong FILE: địa chỉ, TLS, địa chỉ remote-write",
    "Alertmanager that receives the meeting-readiness summaries (default: $NETMON_ALERTMANAGER_URL; without "
    "one, readiness is exported and logged only)":
        "Alertmanager nhận các bản tóm tắt sẵn sàng họp trực tuyến (mặc định: $NETMON_ALERTMANAGER_URL; "
        "không có thì mức sẵn sàng chỉ được xuất ra và ghi nhật ký)",
}


def texts(parsers: Sequence[argparse.ArgumentParser]) -> list[str]:
    """Every help text of ``parsers`` (a parser and every one below it), once each."""
    found = []
    for p in parsers:
        found += [p.description] if p.description else []
        found += [g.title for g in p._action_groups if g.title]
        found += [a.help for a in [*p._actions, *_choices(p)] if a.help and a.help != argparse.SUPPRESS]
    return list(dict.fromkeys(found))


def translate(parsers: Sequence[argparse.ArgumentParser]) -> None:
    """Swap every help text of ``parsers`` for its Vietnamese form (one without stays as written)."""
    for p in parsers:
        if p.description:
            p.description = HELP.get(p.description, p.description)
        for group in p._action_groups:
            if group.title:
                group.title = HELP.get(group.title, ARGPARSE.get(group.title, group.title))
        for action in [*p._actions, *_choices(p)]:
            if action.help and action.help != argparse.SUPPRESS:
                action.help = HELP.get(action.help, ARGPARSE.get(action.help, action.help))


def _choices(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The one-line entries of a parser's subcommands (``netmon --help``'s command list)."""
    return [entry for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for entry in action._choices_actions]
