"""Small helpers every staff and cabinet view uses: safe redirects, service errors on forms,
and CSV exports that Excel opens correctly and cannot be turned into formulas."""

import csv
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme

from prm.exceptions import ApplicationError


def safe_next(request, fallback: str) -> str:
    """The `next` parameter when it points back into this site, else `fallback`."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def form_add_service_errors(form, exc, *, field_map: dict[str, str] | None = None, summary: bool = False) -> None:
    """Show a service's refusal on a form: each field's errors beside it; the message on top
    when no field took it (or always, with `summary=True`)."""
    field_map = field_map or {}
    if isinstance(exc, ApplicationError):
        fields, message = exc.fields, str(exc.message)
    elif isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        fields, message = exc.message_dict, " ".join(exc.messages)
    else:
        fields, message = {}, " ".join(getattr(exc, "messages", [str(exc)]))
    placed = False
    for field, errors in fields.items():
        name = field_map.get(field, field)
        if name in form.fields:
            for error in errors if isinstance(errors, list | tuple) else [errors]:
                form.add_error(name, error)
            placed = True
    if summary or not placed:
        form.add_error(None, message)


# Cells starting with these run as formulas in Excel/LibreOffice: keep them inert.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text


class _Echo:
    def write(self, value):
        return value


def csv_response(rows: Iterable[Iterable], filename: str) -> StreamingHttpResponse:
    """Stream `rows` (the header first) as UTF-8 CSV with a BOM, so Excel reads Cyrillic and CJK."""
    writer = csv.writer(_Echo())
    language = translation.get_language()

    def stream():
        # Rows are produced after the view returns: keep the request's language for labels.
        with translation.override(language):
            yield "\ufeff"
            for row in rows:
                yield writer.writerow([csv_safe(v) for v in row])

    return StreamingHttpResponse(
        stream(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
