"""The description of one convolution case that every backend receives.

A :class:`Problem` fixes everything a kernel needs to know: the operation, the
output mode, the shapes, the dtype and the thread count. It also owns the one
piece of index arithmetic every backend shares: where the requested output sits
inside the *full* correlation with the effective kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPS = ("corr", "conv")
MODES = ("full", "same", "valid")
DTYPES = ("float32", "float64")
# A CNN layer's passes: the forward correlation summed over input channels, and the two gradients.
PASSES = ("forward", "backward-data", "backward-weights")


def _allowed(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def _as_shape(name: str, shape) -> tuple[int, int]:
    """Normalise a 1-D length or a 2-D shape to a positive ``(rows, cols)`` pair."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        dims = tuple(int(s) for s in shape)
    except TypeError:
        raise ValueError(f"{name} must be a length or a (rows, cols) pair, got {shape!r}") from None
    if len(dims) == 1:
        dims = (1, dims[0])
    if len(dims) != 2:
        raise ValueError(f"{name} must have 1 or 2 dimensions, got {len(dims)}: {shape!r}")
    if min(dims) < 1:
        raise ValueError(f"{name} sizes must be positive, got {shape!r}")
    return dims


@dataclass(frozen=True)
class Problem:
    """One case: what to compute, at which sizes, in which precision.

    Parameters
    ----------
    op : {"corr", "conv"}
        ``"corr"`` is cross-correlation (what CNN layers compute); ``"conv"`` is
        true convolution, i.e. correlation with the kernel flipped on every axis.
    mode : {"full", "same", "valid"}
        Output extent with numpy/scipy meaning. ``"same"`` is centred like
        ``scipy.signal.correlate2d`` for ``corr`` and ``scipy.signal.convolve2d``
        for ``conv``; for even kernels the two centres differ by one sample.
    image_shape, kernel_shape : int or tuple of int
        A 1-D length ``L`` is treated as shape ``(1, L)``.
    dtype : {"float32", "float64"}
    threads : int
        CPU threads the backend may use (>= 1).
    batch, in_channels, out_channels : int
        A CNN layer (:mod:`kernels._layers`): ``batch`` images of
        ``in_channels`` maps each, against ``out_channels`` filters of
        ``in_channels`` kernels each. All 1 (the default) is one image and one kernel.
    pass_ : {"forward", "backward-data", "backward-weights"}
        Which of the layer's computations (the ``pass`` column): the output,
        the gradient with respect to the images, or with respect to the filters.
    """

    op: str
    mode: str
    image_shape: tuple[int, int]
    kernel_shape: tuple[int, int]
    dtype: str = "float64"
    threads: int = 1
    batch: int = 1
    in_channels: int = 1
    out_channels: int = 1
    pass_: str = "forward"

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown op {self.op!r}; acceptable ops are {_allowed(OPS)}")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; acceptable modes are {_allowed(MODES)}")
        dtype = np.dtype(self.dtype).name if _is_dtype_like(self.dtype) else str(self.dtype)
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; acceptable dtypes are {_allowed(DTYPES)}")
        image = _as_shape("image_shape", self.image_shape)
        kernel = _as_shape("kernel_shape", self.kernel_shape)
        if self.mode == "valid" and (kernel[0] > image[0] or kernel[1] > image[1]):
            raise ValueError(
                f"kernel {kernel[0]}x{kernel[1]} is larger than image {image[0]}x{image[1]}; "
                "mode 'valid' needs a kernel no larger than the image on every axis"
            )
        if int(self.threads) < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads!r}")
        for name in ("batch", "in_channels", "out_channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.pass_ not in PASSES:
            raise ValueError(f"unknown pass {self.pass_!r}; acceptable passes are {_allowed(PASSES)}")
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "image_shape", image)
        object.__setattr__(self, "kernel_shape", kernel)
        object.__setattr__(self, "threads", int(self.threads))

    @property
    def np_dtype(self) -> np.dtype:
        """The numpy dtype of inputs and output."""
        return np.dtype(self.dtype)

    @property
    def full_shape(self) -> tuple[int, int]:
        """Shape of the full (linear) correlation: image + kernel - 1 per axis."""
        return tuple(i + k - 1 for i, k in zip(self.image_shape, self.kernel_shape))

    @property
    def out_shape(self) -> tuple[int, int]:
        """Shape of the output for this mode."""
        if self.mode == "full":
            return self.full_shape
        if self.mode == "same":
            return self.image_shape
        return tuple(i - k + 1 for i, k in zip(self.image_shape, self.kernel_shape))

    @property
    def window_start(self) -> tuple[int, int]:
        """Where the output starts inside the full correlation with the effective kernel.

        The effective kernel is the kernel itself for ``corr`` and the flipped
        kernel for ``conv``; the full correlation of the image with it has
        ``full_shape``. Output index ``i`` is full index ``window_start + i``.
        """
        return tuple(_window_start(self.op, self.mode, k) for k in self.kernel_shape)

    @property
    def pad_before(self) -> tuple[int, int]:
        """Zeros to put before the image on each axis so that a *valid* sweep gives the output."""
        return tuple(k - 1 - s for k, s in zip(self.kernel_shape, self.window_start))

    @property
    def padded_shape(self) -> tuple[int, int]:
        """Shape of the zero-padded image a valid correlation runs over."""
        return tuple(o + k - 1 for o, k in zip(self.out_shape, self.kernel_shape))

    @property
    def outputs(self) -> int:
        """Number of output samples."""
        h, w = self.out_shape
        return h * w

    @property
    def direct_flops(self) -> int:
        """Floating-point operations of the direct method: 2 per multiply-add, zeros included.

        For a layer, ``2 B K C kh kw`` per output pixel, the same for each of its three passes.
        """
        kh, kw = self.kernel_shape
        return 2 * kh * kw * self.outputs * self.batch * self.in_channels * self.out_channels

    @property
    def is_layer(self) -> bool:
        """True for a CNN layer problem: more than one image, channel or filter, or a backward pass."""
        return (self.batch, self.in_channels, self.out_channels, self.pass_) != (1, 1, 1, "forward")

    @property
    def is_1d(self) -> bool:
        """True when both image and kernel have a single row."""
        return self.image_shape[0] == 1 and self.kernel_shape[0] == 1

    def pad(self, image: np.ndarray, dtype=None) -> np.ndarray:
        """A new zero-padded copy of ``image`` (``padded_shape``): a *valid* correlation over it is the output.

        Parameters
        ----------
        image : array_like
            The image, of ``image_shape`` (a 1-D signal may be given flat).
        dtype : dtype, optional
            Of the copy; the problem's dtype by default.
        """
        (top, left), (h, w) = self.pad_before, self.image_shape
        padded = np.zeros(self.padded_shape, dtype or self.np_dtype)
        padded[top : top + h, left : left + w] = np.asarray(image).reshape(self.image_shape)
        return padded

    def input_bytes(self) -> int:
        """Bytes of images, kernels and outputs together (a lower bound on a case's memory)."""
        size = self.np_dtype.itemsize
        ih, iw = self.image_shape
        kh, kw = self.kernel_shape
        b, c, k = self.batch, self.in_channels, self.out_channels
        return size * (b * c * ih * iw + k * c * kh * kw + b * k * self.outputs)


def _is_dtype_like(value) -> bool:
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def _window_start(op: str, mode: str, k: int) -> int:
    # scipy.signal.correlate2d crops 'same' at k // 2 of the full correlation;
    # convolve2d crops at (k - 1) // 2 of the full convolution, which is the
    # full correlation with the flipped kernel, index for index.
    if mode == "full":
        return 0
    if mode == "valid":
        return k - 1
    return k // 2 if op == "corr" else (k - 1) // 2


def effective_kernel(op: str, kernel: np.ndarray) -> np.ndarray:
    """The kernel a correlation must use: itself for ``corr``, flipped on every axis for ``conv``."""
    if op == "conv":
        return kernel[tuple(slice(None, None, -1) for _ in range(kernel.ndim))]
    return kernel
