"""Domain errors. Services raise these; views and the API turn them into messages."""


class ApplicationError(Exception):
    """A rule of the product was broken. `message` is shown to the user (already translated)."""

    code = "invalid"

    def __init__(self, message, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class StateError(ApplicationError):
    """A transition that the object's current state does not allow."""

    code = "invalid_state"


class PermissionDenied(ApplicationError):
    code = "permission_denied"
