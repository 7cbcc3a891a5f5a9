"""API plumbing shared by every app: one error shape, permissions, pagination."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from prm.exceptions import ApplicationError, StateError
from prm.exceptions import PermissionDenied as DomainPermissionDenied


def _error(code: str, message: str, fields: dict | None = None, http_status: int = 400) -> Response:
    return Response({"error": {"code": code, "message": message, "fields": fields or {}}}, status=http_status)


def exception_handler(exc, context):
    """Every API error answers {"error": {"code", "message", "fields"}}."""
    if isinstance(exc, DomainPermissionDenied):
        return _error(exc.code, str(exc.message), exc.fields, status.HTTP_403_FORBIDDEN)
    if isinstance(exc, StateError):
        return _error(exc.code, str(exc.message), exc.fields, status.HTTP_409_CONFLICT)
    if isinstance(exc, ApplicationError):
        return _error(exc.code, str(exc.message), exc.fields, status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(exc.messages)
        return _error("invalid", message, fields, status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
            non_field = fields.pop("non_field_errors", [])
            message = "; ".join(non_field) or "Invalid input."
        else:
            fields = {}
            message = "; ".join(str(m) for m in (detail if isinstance(detail, list) else [detail]))
        response.data = {"error": {"code": "invalid", "message": message, "fields": fields}}
        return response
    detail = getattr(exc, "detail", "")
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    response.data = {"error": {"code": code, "message": str(detail), "fields": {}}}
    return response


class IsVendorStaff(permissions.BasePermission):
    message = "Only vendor staff may do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_vendor_staff)


class IsPartnerUser(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_partner_user)


class IsStaffOrPartnerUser(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_vendor_staff or user.is_partner_user))


class IsStaffOrReadOnlyPartner(permissions.BasePermission):
    """Staff read and write; partner users read."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_vendor_staff:
            return True
        return user.is_partner_user and request.method in permissions.SAFE_METHODS
