"""Serializers of the partners API. Input serializers check the shape of a request and turn
public ids into objects (each lookup scoped through a selector); services apply the rules.
Output serializers render; none of them saves anything."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from partners import selectors, services
from partners.models import (
    Agreement,
    AgreementStatus,
    Contact,
    ContactRole,
    Interaction,
    Invitation,
    Partner,
    PartnerStatus,
)
from prm.api_docs import named_choice_field
from prm.models import PARTNER_ROLES, Role, User

PARTNER_ROLE_CHOICES = [(r.value, r.label) for r in PARTNER_ROLES]
CREATE_STATUS_CHOICES = [
    (s.value, s.label)
    for s in (PartnerStatus.PROSPECT, PartnerStatus.APPLICANT, PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE)
]


def _request_user(serializer: serializers.Serializer) -> User:
    return serializer.context["request"].user


# --- Small references used inside other resources ---------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    full_name = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "UserRef"


class PartnerRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "PartnerRef"


class ContactRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    full_name = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "ContactRef"


class TierRefSerializer(serializers.Serializer):
    code = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "TierRef"


# --- Input plumbing ---------------------------------------------------------------------------


class StrictInputMixin:
    """Reject keys the serializer does not know instead of silently dropping them: a client
    sending `status` to a profile update must learn that it was not applied."""

    def to_internal_value(self, data):
        unknown = sorted(set(getattr(data, "keys", list)()) - set(self.fields))
        errors = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not unknown:
                raise
            errors = dict(exc.detail)
        if unknown:
            errors.update({key: [_("Not editable.")] for key in unknown})
            errors["non_field_errors"] = [
                _("These fields cannot be changed here: %(fields)s") % {"fields": ", ".join(unknown)}
            ]
            raise serializers.ValidationError(errors)
        return value


@extend_schema_field(OpenApiTypes.UUID)
class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """A related object named by its public id, looked up in a queryset given per request
    (`queryset_for(user)`, a selector) so no one can point at what they cannot see."""

    def __init__(self, *, queryset_for, **kwargs):
        self.queryset_for = queryset_for
        kwargs.setdefault("slug_field", "public_id")
        super().__init__(**kwargs)

    default_error_messages = {
        "does_not_exist": _("Nothing with id “{value}” exists, or you cannot see it."),
        "invalid": _("Give an id."),
    }

    def get_queryset(self):
        return self.queryset_for(self.context["request"].user)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except DjangoValidationError:  # not a UUID at all
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data))


def _staff_users(_user):
    return selectors.staff_user_choices()


def _visible_partners(user):
    return selectors.partner_list(user=user)


def _visible_contacts(user):
    return selectors.contact_list_for_user(user=user)


def staff_user_field(**kwargs):
    kwargs.setdefault("help_text", _("A staff user's id."))
    return ScopedSlugRelatedField(queryset_for=_staff_users, **kwargs)


def partner_field(**kwargs):
    kwargs.setdefault("help_text", _("A partner's id."))
    return ScopedSlugRelatedField(queryset_for=_visible_partners, **kwargs)


def contact_field(**kwargs):
    kwargs.setdefault("help_text", _("A contact's id."))
    return ScopedSlugRelatedField(queryset_for=_visible_contacts, **kwargs)


# --- Partners ---------------------------------------------------------------------------------


class PartnerSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = named_choice_field("PartnerStatus", PartnerStatus.choices, read_only=True)
    allowed_transitions = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text=_("Statuses this partner may move to next.")
    )
    owner = UserRefSerializer(read_only=True, allow_null=True)
    tier = TierRefSerializer(read_only=True, allow_null=True)
    recruited_by = PartnerRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "legal_name",
            "partner_type",
            "status",
            "status_changed_at",
            "allowed_transitions",
            "country",
            "region",
            "city",
            "address",
            "latitude",
            "longitude",
            "website_domain",
            "email",
            "phone",
            "tax_id",
            "size",
            "industries",
            "description",
            "verified",
            "verified_at",
            "owner",
            "tier",
            "tier_since",
            "is_key_account",
            "is_dormant",
            "last_activity_at",
            "recruited_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class _PartnerWriteSerializer(StrictInputMixin, serializers.ModelSerializer):
    owner = staff_user_field(required=False, allow_null=True)
    recruited_by = partner_field(required=False, allow_null=True)

    class Meta:
        model = Partner
        fields = list(services.STAFF_EDITABLE_FIELDS)
        # Uniqueness is the database's and the service's business; no per-field pre-checks.
        validators = []
        extra_kwargs = {
            "latitude": {"min_value": -90, "max_value": 90},
            "longitude": {"min_value": -180, "max_value": 180},
        }

    def validate_country(self, value: str) -> str:
        value = value.strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise serializers.ValidationError(_("Use the two-letter ISO 3166 code."))
        return value

    def validate(self, attrs):
        lat, lon = attrs.get("latitude"), attrs.get("longitude")
        # On PATCH, one coordinate alone is checked against the stored one by the model's constraint.
        both_given = "latitude" in attrs and "longitude" in attrs
        if (both_given or not self.partial) and (lat is None) != (lon is None):
            raise serializers.ValidationError(
                {"longitude" if lon is None else "latitude": [_("Give both latitude and longitude, or neither.")]}
            )
        return attrs


class PartnerCreateSerializer(_PartnerWriteSerializer):
    status = named_choice_field(
        "PartnerCreateStatus", CREATE_STATUS_CHOICES, required=False, default=PartnerStatus.PROSPECT
    )
    tier = serializers.SlugRelatedField(
        slug_field="code", queryset=selectors.tier_list(), required=False, allow_null=True, help_text=_("A tier code.")
    )

    class Meta(_PartnerWriteSerializer.Meta):
        fields = [*_PartnerWriteSerializer.Meta.fields, "status", "tier"]


class PartnerUpdateSerializer(_PartnerWriteSerializer):
    """Staff edit. Status, tier and verification have their own actions."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, write_only=True)

    class Meta(_PartnerWriteSerializer.Meta):
        fields = [*_PartnerWriteSerializer.Meta.fields, "reason"]


class PartnerOwnProfileSerializer(StrictInputMixin, serializers.ModelSerializer):
    """What a partner admin may change about its own company."""

    class Meta:
        model = Partner
        fields = list(services.PARTNER_EDITABLE_FIELDS)
        validators = []


class PartnerStatusSerializer(serializers.Serializer):
    status = named_choice_field("PartnerStatus", PartnerStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class PartnerVerifySerializer(serializers.Serializer):
    verified = serializers.BooleanField(default=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


# --- Contacts ---------------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    role = named_choice_field("ContactRole", ContactRole.choices, read_only=True)
    user = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True, help_text=_("The cabinet user this contact is.")
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "partner",
            "full_name",
            "job_title",
            "role",
            "email",
            "phone",
            "is_decision_maker",
            "birthday",
            "notes",
            "user",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ContactUpdateSerializer(StrictInputMixin, serializers.ModelSerializer):
    role = named_choice_field("ContactRole", ContactRole.choices, required=False)

    class Meta:
        model = Contact
        fields = list(services.CONTACT_FIELDS)
        validators = []


class ContactCreateSerializer(ContactUpdateSerializer):
    partner = partner_field(required=False, help_text=_("The contact's company; partner users may leave it out."))

    class Meta(ContactUpdateSerializer.Meta):
        fields = ["partner", *ContactUpdateSerializer.Meta.fields]

    def get_fields(self):
        fields = super().get_fields()
        # Staff must say which partner; a partner user's contacts belong to its own company.
        fields["partner"].required = not getattr(_request_user(self), "is_partner_user", False)
        return fields

    def validate(self, attrs):
        user = _request_user(self)
        if "partner" not in attrs:
            attrs["partner"] = selectors.partner_get_for_user(user=user, public_id=user.partner.public_id)
        return attrs


# --- Agreements -------------------------------------------------------------------------------


class AgreementSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    status = named_choice_field("AgreementStatus", AgreementStatus.choices, read_only=True)
    vendor_responsible = UserRefSerializer(read_only=True, allow_null=True)
    partner_responsible = ContactRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "partner",
            "number",
            "title",
            "status",
            "commission_pct",
            "discount_pct",
            "payment_terms_days",
            "service_format",
            "response_time_hours",
            "vendor_responsible",
            "partner_responsible",
            "starts_on",
            "ends_on",
            "auto_renew",
            "signed_on",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AgreementUpdateSerializer(StrictInputMixin, serializers.ModelSerializer):
    status = named_choice_field("AgreementStatus", AgreementStatus.choices, required=False)
    vendor_responsible = staff_user_field(required=False, allow_null=True)
    partner_responsible = contact_field(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, write_only=True)

    class Meta:
        model = Agreement
        fields = [*services.AGREEMENT_FIELDS, "reason"]
        validators = []

    def _partner(self, attrs):
        return self.instance.partner if self.instance is not None else attrs.get("partner")

    def validate(self, attrs):
        contact = attrs.get("partner_responsible")
        partner = self._partner(attrs)
        if contact is not None and partner is not None and contact.partner_id != partner.pk:
            raise serializers.ValidationError(
                {"partner_responsible": [_("Choose a contact of the agreement's partner.")]}
            )
        starts_on = attrs.get("starts_on", getattr(self.instance, "starts_on", None))
        ends_on = attrs.get("ends_on", getattr(self.instance, "ends_on", None))
        if starts_on and ends_on and ends_on < starts_on:
            raise serializers.ValidationError({"ends_on": [_("The end cannot come before the start.")]})
        return attrs


class AgreementCreateSerializer(AgreementUpdateSerializer):
    partner = partner_field()

    class Meta(AgreementUpdateSerializer.Meta):
        fields = ["partner", *services.AGREEMENT_FIELDS]


# --- Interactions -----------------------------------------------------------------------------


class InteractionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    author = UserRefSerializer(read_only=True, allow_null=True)
    contact = ContactRefSerializer(read_only=True, allow_null=True)
    has_open_step = serializers.BooleanField(read_only=True)

    class Meta:
        model = Interaction
        fields = [
            "id",
            "partner",
            "author",
            "contact",
            "kind",
            "occurred_at",
            "subject",
            "body",
            "next_step",
            "next_step_due",
            "next_step_done_at",
            "has_open_step",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InteractionCreateSerializer(StrictInputMixin, serializers.ModelSerializer):
    partner = partner_field()
    contact = contact_field(required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(required=False, help_text=_("Defaults to now."))

    class Meta:
        model = Interaction
        fields = ["partner", "kind", "subject", "occurred_at", "body", "contact", "next_step", "next_step_due"]
        validators = []


# --- Cabinet users, invitations, me ------------------------------------------------------------


class PartnerUserSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    partner = PartnerRefSerializer(read_only=True)
    role = named_choice_field("PartnerRole", PARTNER_ROLE_CHOICES, read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "job_title", "phone", "role", "partner", "is_active", "date_joined"]
        read_only_fields = fields


class InvitationSerializer(serializers.ModelSerializer):
    """An open invitation. The token is never shown: it travels only in the invitation e-mail."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    role = named_choice_field("PartnerRole", PARTNER_ROLE_CHOICES, read_only=True)
    invited_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "full_name", "role", "invited_by", "expires_at", "created_at"]
        read_only_fields = fields


class InvitationCreateSerializer(StrictInputMixin, serializers.Serializer):
    email = serializers.EmailField()
    full_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    role = named_choice_field("PartnerRole", PARTNER_ROLE_CHOICES, default=Role.PARTNER_REP)


class MeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    role = named_choice_field("Role", Role.choices, read_only=True)
    partner = PartnerRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "partner", "language"]
        read_only_fields = fields
