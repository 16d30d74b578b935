"""Serialises a small in-memory TFLite graph (tensors, constant buffers, builtin ops) to a .tflite flatbuffer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import flatbuffers
import numpy as np

from tfl_schema import (
    FILE_IDENTIFIER,
    SCHEMA_VERSION,
    BufferF,
    ModelF,
    OperatorCodeF,
    OperatorF,
    QuantF,
    SubGraphF,
    TensorF,
    op_version,
)


@dataclass
class QParams:
    """Affine quantization: real = scale * (q - zero_point); per-axis when len(scale) > 1."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0

    @staticmethod
    def per_tensor(scale: float, zero_point: int) -> "QParams":
        return QParams(np.array([scale], np.float32), np.array([zero_point], np.int64))


@dataclass
class Tensor:
    name: str
    shape: list[int]
    type: int
    data: Optional[bytes] = None  # constant contents, little-endian
    quant: Optional[QParams] = None


@dataclass
class Op:
    code: int
    inputs: list[int]
    outputs: list[int]
    int8: bool
    options_type: int = 0
    # (slot, kind, value) with kind in {"i32", "u8", "bool", "i32vec"}; fields are written in this order.
    options: list[tuple[int, str, object]] = field(default_factory=list)
    options_fields: int = 0
    version: int = 0  # 0: the version op_version() assigns

    def resolved_version(self) -> int:
        return self.version or op_version(self.code, self.int8)


@dataclass
class Graph:
    tensors: list[Tensor] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def add(self, t: Tensor) -> int:
        self.tensors.append(t)
        return len(self.tensors) - 1


def _int_vector(b: flatbuffers.Builder, values: Sequence[int], width: int = 4) -> int:
    b.StartVector(width, len(values), width)
    for v in reversed(values):
        if width == 4:
            b.PrependInt32(int(v))
        else:
            b.PrependInt64(int(v))
    return b.EndVector()


def _float_vector(b: flatbuffers.Builder, values: Sequence[float]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(float(v))
    return b.EndVector()


def _offset_vector(b: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _aligned_bytes(b: flatbuffers.Builder, data: bytes) -> int:
    # Buffer.data is declared force_align: 16 so kernels can read weights in place.
    b.StartVector(1, len(data), 16)
    b.head = b.head - len(data)
    b.Bytes[b.head : b.head + len(data)] = data
    return b.EndVector()


def _options(b: flatbuffers.Builder, op: Op) -> int:
    vecs = {slot: _int_vector(b, value) for slot, kind, value in op.options if kind == "i32vec"}  # type: ignore[arg-type]
    b.StartObject(op.options_fields)
    for slot, kind, value in op.options:
        if kind == "i32":
            b.PrependInt32Slot(slot, int(value), 0)  # type: ignore[arg-type]
        elif kind == "u8":
            b.PrependUint8Slot(slot, int(value), 0)  # type: ignore[arg-type]
        elif kind == "bool":
            b.PrependBoolSlot(slot, bool(value), False)
        elif kind == "i32vec":
            b.PrependUOffsetTRelativeSlot(slot, vecs[slot], 0)
        else:
            raise ValueError(kind)
    return b.EndObject()


def serialize(g: Graph, description: str = "edgetune") -> bytes:
    """Writes `g` as a one-subgraph TFLite model (schema version 3, identifier TFL3)."""
    b = flatbuffers.Builder(1 << 16)

    # Operator codes: one per (builtin, version), in first-use order.
    codes: list[tuple[int, int]] = []
    for op in g.ops:
        key = (op.code, op.resolved_version())
        if key not in codes:
            codes.append(key)

    # Buffers: 0 is the mandatory empty sentinel; each constant tensor owns one.
    buffer_of: dict[int, int] = {}
    payloads: list[Optional[bytes]] = [None]
    for k, t in enumerate(g.tensors):
        if t.data is not None:
            buffer_of[k] = len(payloads)
            payloads.append(t.data)
        else:
            buffer_of[k] = 0

    buffer_offsets = []
    for data in payloads:
        d = _aligned_bytes(b, data) if data else None
        b.StartObject(BufferF.N)
        if d is not None:
            b.PrependUOffsetTRelativeSlot(BufferF.data, d, 0)
        buffer_offsets.append(b.EndObject())

    tensor_offsets = []
    for k, t in enumerate(g.tensors):
        name = b.CreateString(t.name)
        shape = _int_vector(b, t.shape)
        q = None
        if t.quant is not None:
            scale = _float_vector(b, t.quant.scale.tolist())
            zp = _int_vector(b, t.quant.zero_point.tolist(), 8)
            b.StartObject(QuantF.N)
            b.PrependUOffsetTRelativeSlot(QuantF.scale, scale, 0)
            b.PrependUOffsetTRelativeSlot(QuantF.zero_point, zp, 0)
            b.PrependInt32Slot(QuantF.quantized_dimension, t.quant.axis, 0)
            q = b.EndObject()
        b.StartObject(TensorF.N)
        b.PrependUOffsetTRelativeSlot(TensorF.shape, shape, 0)
        b.PrependInt8Slot(TensorF.type, t.type, 0)
        b.PrependUint32Slot(TensorF.buffer, buffer_of[k], 0)
        b.PrependUOffsetTRelativeSlot(TensorF.name, name, 0)
        if q is not None:
            b.PrependUOffsetTRelativeSlot(TensorF.quantization, q, 0)
        tensor_offsets.append(b.EndObject())

    op_offsets = []
    for op in g.ops:
        ins = _int_vector(b, op.inputs)
        outs = _int_vector(b, op.outputs)
        opts = _options(b, op) if op.options_type else None
        b.StartObject(OperatorF.N)
        b.PrependUint32Slot(OperatorF.opcode_index, codes.index((op.code, op.resolved_version())), 0)
        b.PrependUOffsetTRelativeSlot(OperatorF.inputs, ins, 0)
        b.PrependUOffsetTRelativeSlot(OperatorF.outputs, outs, 0)
        if opts is not None:
            b.PrependUint8Slot(OperatorF.builtin_options_type, op.options_type, 0)
            b.PrependUOffsetTRelativeSlot(OperatorF.builtin_options, opts, 0)
        op_offsets.append(b.EndObject())

    tensors_vec = _offset_vector(b, tensor_offsets)
    inputs_vec = _int_vector(b, g.inputs)
    outputs_vec = _int_vector(b, g.outputs)
    ops_vec = _offset_vector(b, op_offsets)
    sg_name = b.CreateString("main")
    b.StartObject(SubGraphF.N)
    b.PrependUOffsetTRelativeSlot(SubGraphF.tensors, tensors_vec, 0)
    b.PrependUOffsetTRelativeSlot(SubGraphF.inputs, inputs_vec, 0)
    b.PrependUOffsetTRelativeSlot(SubGraphF.outputs, outputs_vec, 0)
    b.PrependUOffsetTRelativeSlot(SubGraphF.operators, ops_vec, 0)
    b.PrependUOffsetTRelativeSlot(SubGraphF.name, sg_name, 0)
    subgraph = b.EndObject()

    code_offsets = []
    for code, version in codes:
        b.StartObject(OperatorCodeF.N)
        # Readers take the legacy byte field when the int32 one is below 127; write both, forced.
        b.PrependInt8Slot(OperatorCodeF.deprecated_builtin_code, code, -1)
        b.PrependInt32Slot(OperatorCodeF.version, version, -1)
        b.PrependInt32Slot(OperatorCodeF.builtin_code, code, -1)
        code_offsets.append(b.EndObject())

    codes_vec = _offset_vector(b, code_offsets)
    subgraphs_vec = _offset_vector(b, [subgraph])
    desc = b.CreateString(description)
    buffers_vec = _offset_vector(b, buffer_offsets)
    b.StartObject(ModelF.N)
    b.PrependUint32Slot(ModelF.version, SCHEMA_VERSION, 0)
    b.PrependUOffsetTRelativeSlot(ModelF.operator_codes, codes_vec, 0)
    b.PrependUOffsetTRelativeSlot(ModelF.subgraphs, subgraphs_vec, 0)
    b.PrependUOffsetTRelativeSlot(ModelF.description, desc, 0)
    b.PrependUOffsetTRelativeSlot(ModelF.buffers, buffers_vec, 0)
    model = b.EndObject()
    b.Finish(model, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())
