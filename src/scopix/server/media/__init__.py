"""One handler per media type behind one Protocol: see base.py."""
