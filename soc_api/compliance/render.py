"""A report written as JSON, HTML (Jinja2) and PDF (headless Chromium), the same bytes for
the same report."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from soc_api.compliance.frameworks import ComplianceError

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PDF_TIMEOUT = 120.0
_PDF_DATE = re.compile(rb"\(D:\d{14}(?:[+\-Z][0-9']*)?\)")

LABELS: dict[str, dict[str, Any]] = {
    "vi": {
        "title": "Báo cáo tuân thủ an toàn thông tin",
        "agency": "Đơn vị", "city": "Thành phố", "period": "Kỳ báo cáo",
        "levels": "Cấp độ", "generated": "Thời điểm lập", "sources": "Văn bản",
        "summary": "Tổng hợp", "requirements": "Yêu cầu", "requirement": "Yêu cầu",
        "reference": "Căn cứ", "status_label": "Trạng thái", "evidence": "Bằng chứng",
        "attest": "Cần xác nhận", "attested": "Đã xác nhận",
        "query": "Truy vấn", "time": "Thời điểm",
        "unsure": "Điều khoản chưa được đối chiếu với văn bản gốc",
        "no_findings": "Không có phát hiện.",
        "status": {"met": "Đạt", "partly_met": "Đạt một phần", "not_met": "Không đạt",
                   "not_applicable": "Không áp dụng", "needs_attestation": "Cần xác nhận"},
    },
    "en": {
        "title": "Information security compliance report",
        "agency": "Agency", "city": "City", "period": "Period",
        "levels": "Levels", "generated": "As of", "sources": "Texts",
        "summary": "Summary", "requirements": "Requirements", "requirement": "Requirement",
        "reference": "Reference", "status_label": "Status", "evidence": "Evidence",
        "attest": "Attestation needed", "attested": "Attested", "query": "Query", "time": "Time",
        "unsure": "Clause not confirmed against the published text",
        "no_findings": "No finding.",
        "status": {"met": "Met", "partly_met": "Partly met", "not_met": "Not met",
                   "not_applicable": "Not applicable", "needs_attestation": "Needs attestation"},
    },
}  # fmt: skip


INCIDENT_LABELS: dict[str, dict[str, Any]] = {
    "vi": {
        "title": {"notification": "Thông báo sự cố an toàn thông tin mạng",
                  "final": "Báo cáo kết thúc ứng phó sự cố an toàn thông tin mạng"},
        "basis": "Căn cứ", "reporting_unit": "Đơn vị vận hành báo cáo",
        "recipients": "Nơi nhận", "generated": "Thời điểm lập", "incident": "Sự cố",
        "name": "Tên sự cố", "types": "Loại sự cố", "severity": "Mức độ",
        "first_activity": "Hoạt động đầu tiên", "detected": "Thời điểm phát hiện",
        "last_activity": "Hoạt động gần nhất", "due": "Hạn gửi (5 ngày)",
        "on_time": "đúng hạn", "late": "quá hạn", "status": "Trạng thái",
        "statuses": {"resolved": "Đã xử lý xong", "ongoing": "Đang xử lý"},
        "others": "Đơn vị khác", "unknown": "Chưa xác định",
        "others_text": "Sự cố liên quan thêm {agencies} đơn vị khác ({alerts} cảnh báo), "
                       "không nêu tên trong báo cáo này.",
        "attacker": "Đối tượng tấn công", "systems": "Hệ thống bị ảnh hưởng",
        "segment": "Phân vùng", "kind": "Loại", "level": "Cấp độ (NĐ 85)",
        "targets": "Đối tượng bị tấn công", "targets_word": "đối tượng",
        "timeline": "Diễn biến", "time": "Thời điểm", "stage": "Giai đoạn", "what": "Nội dung",
        "handling": "Biện pháp xử lý", "response": "Xử lý", "assignee": "Người phụ trách",
        "runbook": "Quy trình", "events": "sự kiện", "notes": "Ghi chú",
        "severities": {"critical": "Nghiêm trọng", "high": "Cao", "medium": "Trung bình",
                       "low": "Thấp", "informational": "Thông tin"},
    },
    "en": {
        "title": {"notification": "Cyber information security incident notification",
                  "final": "Final report on the response to a cyber information security "
                           "incident"},
        "basis": "Legal basis", "reporting_unit": "Reporting operator",
        "recipients": "Recipients", "generated": "As of", "incident": "Incident",
        "name": "Incident", "types": "Type", "severity": "Severity",
        "first_activity": "First activity", "detected": "Detected",
        "last_activity": "Last activity", "due": "Due (5 days)", "on_time": "on time",
        "late": "late", "status": "Status",
        "statuses": {"resolved": "Resolved", "ongoing": "Ongoing"},
        "others": "Other agencies", "unknown": "Not identified",
        "others_text": "The incident also involves {agencies} other agencies ({alerts} "
                       "alerts), not named in this report.",
        "attacker": "Attacker", "systems": "Systems affected", "segment": "Segment",
        "kind": "Kind", "level": "Level (Decree 85)", "targets": "Targets",
        "targets_word": "targets", "timeline": "Timeline", "time": "Time", "stage": "Stage",
        "what": "What", "handling": "Handling", "response": "Response",
        "assignee": "Assignee", "runbook": "Runbook", "events": "events", "notes": "Notes",
        "severities": {"critical": "Critical", "high": "High", "medium": "Medium",
                       "low": "Low", "informational": "Informational"},
    },
}  # fmt: skip


def to_json(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode()


def to_html(report: dict[str, Any]) -> bytes:
    """A compliance report, or a Circular 20 incident report, as one HTML page."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    lang = report["lang"]
    if "incident" in report:
        page = env.get_template("incident.html.j2")
        return page.render(report=report, lang=lang, t=INCIDENT_LABELS[lang]).encode()
    html = env.get_template("report.html.j2").render(report=report, lang=lang, t=LABELS[lang])
    return html.encode()


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def to_pdf(html: bytes, stamp: str) -> bytes:
    """The HTML printed by headless Chromium; its dates set to ``stamp`` (``YYYYMMDDHHMMSS``)
    so the bytes depend on the report only."""
    chromium = find_chromium()
    if chromium is None:
        raise ComplianceError(
            "no Chromium to print the PDF: install Debian's chromium (scripts/system-deps.sh)"
        )
    with tempfile.TemporaryDirectory(prefix="citysoc-report-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_bytes(html)
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
            f"--print-to-pdf={out}", page.as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(  # noqa: S603 - our own argument list, no shell
                command, capture_output=True, timeout=PDF_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ComplianceError(f"Chromium did not print the PDF in {PDF_TIMEOUT:.0f} s") from exc
        if done.returncode != 0 or not out.exists():
            tail = done.stderr.decode(errors="replace")[-400:]
            raise ComplianceError(f"Chromium could not print the PDF ({done.returncode}): {tail}")
        return normalise_pdf(out.read_bytes(), stamp)


def normalise_pdf(pdf: bytes, stamp: str) -> bytes:
    """Creation and modification dates replaced by ``stamp``, keeping each string's length
    (the cross-reference offsets stay right)."""

    wanted = f"(D:{stamp})".encode()  # as short as any match: padding keeps the length

    def fixed(found: re.Match[bytes]) -> bytes:
        return wanted.ljust(len(found.group(0)), b" ")

    return _PDF_DATE.sub(fixed, pdf)
