"""ONNX export of a style network with dynamic batch, height and width, and an onnxruntime engine.

Needs the ``onnx`` extra (``pip install brushwork[onnx]``): onnx and onnxruntime. The model's
metadata travels in the ONNX file's ``metadata_props`` (as JSON under the key "brushwork"). A network
of N styles keeps its style input: a second input "style_weights", float32 [N], the blend of its
styles (non-negative, summing to one).
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brushwork.errors import BrushworkError
from brushwork.feedforward.model_file import load_style_network, style_blend
from brushwork.feedforward.network import MULTIPLE
from brushwork.image import write_atomically
from brushwork.outputs import check_output_file

OPSET = 17
INPUT, OUTPUT, STYLE_INPUT = "image", "stylized", "style_weights"
META_KEY = "brushwork"


def _needs(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise BrushworkError(f"ONNX support needs the {module} package: pip install 'brushwork[onnx]'") from None


def export_onnx(model: Path | str, output: Path | str, opset: int = OPSET, *, overwrite: bool = False) -> None:
    """Write the style network file ``model`` as an ONNX model at ``output``: input "image" and output
    "stylized", both float32 [B,3,H,W] RGB in [0,1] with B, H and W dynamic (H and W multiples of 4;
    ``brushwork apply`` pads any image to that), and for a network of N styles the input "style_weights"
    [N]. An existing ``output`` is replaced only with ``overwrite``."""
    output = check_output_file(output, "output", [("model", model)], overwrite, (".onnx",))
    onnx = _needs("onnx")
    network = load_style_network(model)
    buffer = io.BytesIO()
    dummy = torch.rand(1, 3, 16 * MULTIPLE, 16 * MULTIPLE)
    count = network.net.styles
    inputs = (dummy,) if count == 1 else (dummy, torch.full((count,), 1 / count))
    # The TorchScript exporter (dynamo=False) needs no onnxscript and handles these few ops well. Its
    # warnings (its deprecation, constant folding, instance norm using batch statistics) are expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network.net, inputs, buffer, input_names=[INPUT, STYLE_INPUT][:len(inputs)],
                          output_names=[OUTPUT],
                          opset_version=opset, dynamic_axes={INPUT: {0: "batch", 2: "height", 3: "width"},
                                                             OUTPUT: {0: "batch", 2: "height", 3: "width"}},
                          dynamo=False)
    proto = onnx.load_from_string(buffer.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(network.metadata)
    onnx.checker.check_model(proto)
    write_atomically(output, lambda tmp: tmp.write_bytes(proto.SerializeToString()))


class OnnxEngine:
    """An exported model run by onnxruntime on the CPU with PyTorch's thread count: float32 [B,3,H,W]
    in, the same shape out; a model of several styles blends them by ``style_weights`` (see
    ``apply.style_blend``)."""

    def __init__(self, path: Path, style_weights: tuple[float, ...] | None = None) -> None:

        ort = _needs("onnxruntime")
        if not path.is_file():
            raise BrushworkError(f"{path}: model file not found")
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()  # as many as PyTorch (OMP_NUM_THREADS)
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise BrushworkError(f"{path}: not an ONNX model ({' '.join(str(exc).split())[:120]})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if META_KEY not in props:
            raise BrushworkError(f"{path}: not exported by brushwork (no '{META_KEY}' metadata)")
        self.metadata: dict[str, Any] = json.loads(props[META_KEY])
        blend = style_blend(style_weights, self.metadata).numpy()
        takes_style = any(i.name == STYLE_INPUT for i in self.session.get_inputs())
        self.style_feed = {STYLE_INPUT: blend} if takes_style else {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        feed = {INPUT: np.ascontiguousarray(x.float().cpu().numpy()), **self.style_feed}
        return torch.from_numpy(self.session.run([OUTPUT], feed)[0])
