"""Fields read on-device from the text OCR found: labelled values and typed patterns matched to
the schema's field names and types (domain/field_finder.py). What the text does not support
stays null: this extractor never invents a value, so it is safe with no model configured."""

from __future__ import annotations

from scopix.server.domain.extraction_schemas import FieldSpec, empty_data, leaf_fields, set_path
from scopix.server.domain.field_finder import WantedField, find_fields
from scopix.server.vision.fields.base import FieldRequest, FieldsFound, FieldValue


class OnDeviceFieldExtractor:
    """Fills a schema from OCR text alone (`ondevice-fields`)."""

    name = "ondevice-fields"
    needs_image = False

    async def extract(self, request: FieldRequest) -> FieldsFound:
        schema = dict(request.schema)
        wanted = [_wanted(field) for field in leaf_fields(schema)]
        found = find_fields(wanted, request.regions)
        data = empty_data(schema)
        for value in found:
            set_path(data, value.path, value.value)
        fields = tuple(FieldValue(f.path, f.value, f.confidence, f.source) for f in found)
        return FieldsFound(self.name, data, fields)


def _wanted(field: FieldSpec) -> WantedField:
    return WantedField(
        path=field.path,
        name=field.name,
        types=field.types,
        description=field.description,
        format=field.format,
        enum=field.enum,
    )
