"""Field types: the plug-in registry that validates and normalises record values.

``register_field_types()`` registers every built-in type, one explicit line each. The
app's ``ready()`` calls it; it also runs when this package is first imported so that code
using ``field_type_registry`` outside Django (scripts, pure tests) finds the types.
Registering again is a no-op.
"""

from __future__ import annotations

from ledgers.fields.registry import FieldType, FieldTypeRegistry, field_type_registry

__all__ = ["FieldType", "FieldTypeRegistry", "field_type_registry", "register_field_types"]


def register_field_types(registry: FieldTypeRegistry = field_type_registry) -> None:
    """Register the built-in field types (idempotent)."""
    from ledgers.fields.types.address import AddressFieldType
    from ledgers.fields.types.boolean import BooleanFieldType
    from ledgers.fields.types.choice import ChoiceFieldType
    from ledgers.fields.types.date import DateFieldType
    from ledgers.fields.types.datetime import DateTimeFieldType
    from ledgers.fields.types.decimal import DecimalFieldType
    from ledgers.fields.types.department_flags import DepartmentFlagsFieldType
    from ledgers.fields.types.email import EmailFieldType
    from ledgers.fields.types.file import FileFieldType
    from ledgers.fields.types.integer import IntegerFieldType
    from ledgers.fields.types.long_text import LongTextFieldType
    from ledgers.fields.types.multi_choice import MultiChoiceFieldType
    from ledgers.fields.types.my_number import MyNumberFieldType
    from ledgers.fields.types.person_name import PersonNameFieldType
    from ledgers.fields.types.phone import PhoneFieldType
    from ledgers.fields.types.postal_code import PostalCodeFieldType
    from ledgers.fields.types.reference import ReferenceFieldType
    from ledgers.fields.types.repeating_group import RepeatingGroupFieldType
    from ledgers.fields.types.text import TextFieldType

    registry.register(TextFieldType())
    registry.register(LongTextFieldType())
    registry.register(IntegerFieldType())
    registry.register(DecimalFieldType())
    registry.register(DateFieldType())
    registry.register(DateTimeFieldType())
    registry.register(BooleanFieldType())
    registry.register(ChoiceFieldType())
    registry.register(MultiChoiceFieldType())
    registry.register(PersonNameFieldType())
    registry.register(PostalCodeFieldType())
    registry.register(AddressFieldType())
    registry.register(PhoneFieldType())
    registry.register(EmailFieldType())
    registry.register(MyNumberFieldType())
    registry.register(FileFieldType())
    registry.register(DepartmentFlagsFieldType())
    registry.register(RepeatingGroupFieldType(registry))
    registry.register(ReferenceFieldType())


register_field_types()
