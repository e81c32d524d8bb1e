"""A convbench plugin: a plain numpy direct backend, and two that misbehave on purpose.

This file is also the template of README's "Add a backend" section: a backend
subclasses ``BackendBase`` and writes only what is particular to it.
"""

import ctypes
import time

import numpy as np

from kernels import BackendBase, PreparedBase, Problem, check_inputs, effective_kernel


class _Prepared(PreparedBase):
    def __init__(self, problem: Problem, image, kernel):
        super().__init__()
        self.problem = problem
        self.image, kernel = check_inputs(problem, image, kernel)
        self.kernel = effective_kernel(problem.op, kernel)
        (top, left), (h, w) = problem.pad_before, problem.image_shape
        with self.stage("alloc"):
            self.padded = problem.pad(self.image)
            self.interior = self.padded[top : top + h, left : left + w]
            self.out = np.empty(problem.out_shape, problem.np_dtype)

    def __call__(self):
        self.interior[...] = self.image
        (oh, ow), (kh, kw) = self.out.shape, self.kernel.shape
        self.out[...] = 0
        for a in range(kh):
            for b in range(kw):
                self.out += self.kernel[a, b] * self.padded[a : a + oh, b : b + ow]

    def result(self):
        return self.out.copy()


class DemoBackend(BackendBase):
    name, method, device = "demo-direct", "direct", "cpu"

    def prepare(self, problem, image, kernel):
        return _Prepared(problem, image, kernel)


class CrashyBackend(DemoBackend):
    """Segfaults in prepare when the image has 32 rows."""

    name = "crashy"

    def prepare(self, problem, image, kernel):
        if problem.image_shape[0] == 32:
            ctypes.string_at(0)  # read address 0: SIGSEGV
        return super().prepare(problem, image, kernel)


class SleepyBackend(DemoBackend):
    """Hangs in prepare when the image has 48 rows."""

    name = "sleepy"

    def prepare(self, problem, image, kernel):
        if problem.image_shape[0] == 48:
            time.sleep(600)
        return super().prepare(problem, image, kernel)


BACKEND = DemoBackend()
CRASHY = CrashyBackend()
SLEEPY = SleepyBackend()
