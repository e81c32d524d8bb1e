"""``onnxruntime``: ONNX Runtime's ``Conv`` on the CPU (MLAS), the peer for CNN layers (``onnx`` extra).

The layer's weights are an initializer of a one-node model, so ONNX Runtime
may prepack them once, at session creation, as it does for its users' models;
graph optimisations are at their default (all), ``intra_op_num_threads`` is
the case's threads. Its pool does not spin after a run: spinning took the
cores from whatever was timed next (an interleaved GEMM ran 1.8x slower), and
a sleeping pool pays microseconds of wake-up on calls of milliseconds; the
options say so. ``Conv`` correlates (a ``conv`` problem passes the flipped
weights), stride 1, padding from the mode; forward passes in float32 only.
ONNX Runtime chooses its own algorithm (MLAS's NCHWc direct convolution or
im2col and GEMM); ``method`` says direct, as for OpenCV.
"""

from __future__ import annotations

import numpy as np

from ._base import BackendBase, PreparedBase
from ._layer_base import check_layer_inputs
from ._layers import oriented, output_shape
from ._optional import optional_import
from ._problem import Problem

ort = optional_import("onnxruntime")


class _OrtPrepared(PreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        from onnx import TensorProto, helper, numpy_helper

        self.problem = problem
        x, w = check_layer_inputs(problem, image, kernel)
        (top, left), (kh, kw) = problem.pad_before, problem.kernel_shape
        (oh, ow), (h, w_) = problem.out_shape, problem.image_shape
        pads = [top, left, oh + kh - 1 - h - top, ow + kw - 1 - w_ - left]  # begins, then ends
        node = helper.make_node("Conv", ["x", "w"], ["y"], pads=pads, strides=[1, 1])
        graph = helper.make_graph(
            [node],
            "layer",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(output_shape(problem)))],
            initializer=[numpy_helper.from_array(np.ascontiguousarray(oriented(problem, w)), "w")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = problem.threads, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        with self.stage("plan"):
            self._session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self._feed, self._out = {"x": x}, None
        self.notes = f"onnxruntime {ort.__version__}, graph optimisations all, intra-op pool not spinning"

    def __call__(self) -> None:
        self._out = self._session.run(None, self._feed)[0]

    def result(self) -> np.ndarray:
        out = np.array(self._out)
        return out if self.problem.is_layer else out.reshape(self.problem.out_shape)


class OnnxRuntimeBackend(BackendBase):
    """ONNX Runtime's ``Conv`` (CPU execution provider) on one-node models."""

    name = "onnxruntime"
    method = "direct"
    requires = ("onnxruntime", "onnx")
    install_hint = "pip install convbench[onnx]"
    takes_layers = True

    def supports(self, problem: Problem) -> tuple[bool, str]:
        if problem.pass_ != "forward":
            return False, "an inference runtime: forward passes only"
        if problem.dtype != "float32":
            return False, "its CPU Conv computes float32 only"
        return True, ""

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _OrtPrepared:
        return _OrtPrepared(problem, image, kernel)


BACKEND = OnnxRuntimeBackend()
