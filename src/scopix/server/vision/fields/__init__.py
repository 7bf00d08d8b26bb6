"""Custom extraction: the fields a tenant's schema asks for, read out of a file (base.py), by
a vision-language model (remote.py) or on-device from the text OCR found (ondevice.py)."""
