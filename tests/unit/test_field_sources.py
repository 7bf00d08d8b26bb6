"""Where a model's answer shows on the page (`region_with`) and an extraction's confidence."""

from __future__ import annotations

from scopix.server.domain.regions import BoundingBox, TextRegion
from scopix.server.vision.fields.base import FieldsFound, FieldValue, region_with


def region(text: str, confidence: float = 0.9, y: float = 0.1) -> TextRegion:
    box = BoundingBox(0.1, y, 0.5, 0.05)
    corners = ((0.1, y), (0.6, y), (0.6, y + 0.05), (0.1, y + 0.05))
    return TextRegion(text=text, confidence=confidence, bbox=box, polygon=corners)


def test_numbers_are_found_by_their_digits_as_pages_group_and_pad_them():
    regions = [region("Subtotal: $1,100.00"), region("Total: $1,234.50", y=0.5)]
    assert region_with(1234.5, regions) == regions[1]
    assert region_with(1100, regions) == regions[0]
    assert region_with(99.1, regions) is None


def test_strings_are_found_in_any_case_and_spacing_the_most_confident_first():
    regions = [region("Invoice  No: inv-7", 0.7), region("INV-7 (copy)", 0.95, y=0.3)]
    assert region_with("INV-7", regions) == regions[1]
    assert region_with("", regions) is None
    assert region_with(None, regions) is None
    assert region_with(True, regions) is None  # a yes/no is no text to point at


def test_the_confidence_of_an_extraction_is_the_mean_of_what_it_found():
    found = FieldsFound("x", {}, (FieldValue("a", 1, 0.9, None), FieldValue("b", "y", 0.5, None)))
    assert found.confidence_score == 0.7
    assert FieldsFound("x", {"a": None}, ()).confidence_score is None
