"""One module per field type; ``ledgers.fields.register_field_types`` registers them."""
