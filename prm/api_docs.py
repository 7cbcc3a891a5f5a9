"""OpenAPI pieces every app's API shares: the one error shape, and a schema class that
documents it on every operation so clients can rely on it without reading each endpoint."""

from drf_spectacular.drainage import get_override
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable code, e.g. `invalid`, `not_found`, `invalid_state`.")
    message = serializers.CharField(help_text="Human-readable, already translated.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per-field messages for invalid input; empty otherwise.",
    )


class ErrorResponseSerializer(serializers.Serializer):
    """What every API error answers (see prm.api.exception_handler)."""

    error = ErrorBodySerializer()

    class Meta:
        ref_name = "Error"


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorResponseSerializer, description=description)


_named_choice_classes: dict[str, type] = {}


def named_choice_field(name: str, choices, **kwargs) -> serializers.ChoiceField:
    """A ChoiceField documented as its own enum component `<name>Enum`.

    Several resources have a `status` or a `role` with different choice sets; named components
    keep the schema's enum names stable and free of drf-spectacular's collision warnings.
    """
    values = [value for value, _label in choices]
    field_class = _named_choice_classes.get(name)
    if field_class is None:
        # One class per name: drf-spectacular treats two classes of one component name as a clash.
        schema = {"type": "string", "enum": values}
        field_class = extend_schema_field(schema, component_name=f"{name}Enum")(
            type(f"{name}ChoiceField", (serializers.ChoiceField,), {})
        )
        _named_choice_classes[name] = field_class
    elif get_override(field_class, "field")["enum"] != values:
        raise ValueError(f"{name}Enum is already defined with other choices.")
    return field_class(choices=choices, **kwargs)


class ErrorDocumentingAutoSchema(AutoSchema):
    """Adds the shared error responses an operation can produce to its documented responses.

    400 for writes and filtered lists, 401/403 when the view authenticates, 404 for object
    routes. Views document 409 themselves where a state transition can be refused.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors = {}
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view():
            errors["400"] = "Invalid input or filter; `fields` says which."
        if self.view.get_authenticators():
            errors["401"] = "Not authenticated."
            errors["403"] = "Authenticated, but not allowed to do this."
        if "{" in self.path:
            errors["404"] = "No such object, or not visible to you."
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(error_response(description), code, direction=direction)
        return responses
