"""On-device vision: OCR, ImageNet tags and text embeddings from models inside wheels."""

from scopix.server.vision.ondevice.analyzer import OnDeviceAnalyzer
from scopix.server.vision.ondevice.embedder import E5Embedder
from scopix.server.vision.ondevice.ocr import TextReader
from scopix.server.vision.ondevice.tagger import Tagger

__all__ = ["E5Embedder", "OnDeviceAnalyzer", "Tagger", "TextReader"]
