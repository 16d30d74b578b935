"""TFLite flatbuffer schema facts (tensorflow/lite/schema/schema.fbs, file_identifier "TFL3"): field slots, enum values, op versions.

Only what the converter writes is listed. Slot numbers are the field's position in its table
(a union takes two slots: its `_type` byte, then the offset). Values are facts from the schema
and from tensorflow/lite/tools/versioning/op_version.cc.
"""

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3


class TensorType:
    FLOAT32 = 0
    INT32 = 2
    INT64 = 4
    INT8 = 9


class Builtin:
    """BuiltinOperator enum (all below 127, so they also fit the legacy byte field)."""

    ADD = 0
    AVERAGE_POOL_2D = 1
    CONV_2D = 3
    DEQUANTIZE = 6
    FULLY_CONNECTED = 9
    MAX_POOL_2D = 17
    RELU = 19
    RESHAPE = 22
    PAD = 34
    MEAN = 40
    QUANTIZE = 114


BUILTIN_NAMES = {v: k for k, v in vars(Builtin).items() if not k.startswith("_")}


class Options:
    """BuiltinOptions union type ids (NONE = 0)."""

    NONE = 0
    Conv2DOptions = 1
    Pool2DOptions = 5
    FullyConnectedOptions = 8
    AddOptions = 11
    ReshapeOptions = 17
    PadOptions = 22
    ReducerOptions = 27
    DequantizeOptions = 38
    QuantizeOptions = 89


class Padding:
    SAME = 0
    VALID = 1


class Activation:
    NONE = 0
    RELU = 1


# Table field slots.
class ModelF:
    version, operator_codes, subgraphs, description, buffers = range(5)
    N = 5


class OperatorCodeF:
    deprecated_builtin_code, custom_code, version, builtin_code = range(4)
    N = 4


class SubGraphF:
    tensors, inputs, outputs, operators, name = range(5)
    N = 5


class TensorF:
    shape, type, buffer, name, quantization = range(5)
    N = 5


class QuantF:
    min, max, scale, zero_point, details_type, details, quantized_dimension = range(7)
    N = 7


class OperatorF:
    opcode_index, inputs, outputs, builtin_options_type, builtin_options = range(5)
    N = 5


class BufferF:
    data = 0
    N = 1


class Conv2DOptionsF:
    padding, stride_w, stride_h, fused_activation_function, dilation_w_factor, dilation_h_factor = range(6)
    N = 6


class Pool2DOptionsF:
    padding, stride_w, stride_h, filter_width, filter_height, fused_activation_function = range(6)
    N = 6


class FullyConnectedOptionsF:
    fused_activation_function, weights_format, keep_num_dims = range(3)
    N = 3


class AddOptionsF:
    fused_activation_function = 0
    N = 1


class ReshapeOptionsF:
    new_shape = 0
    N = 1


class ReducerOptionsF:
    keep_dims = 0
    N = 1


def op_version(op: int, int8: bool) -> int:
    """The version op_version.cc assigns for the signatures this converter emits.

    int8 means int8 activations (for QUANTIZE: float32 -> int8; DEQUANTIZE: int8 -> float32).
    Per-channel int8 weights on CONV_2D and FULLY_CONNECTED with int8 activations keep versions 3 and 4.
    """
    if op == Builtin.CONV_2D:
        return 3 if int8 else 1
    if op == Builtin.FULLY_CONNECTED:
        return 4 if int8 else 1
    if op in (Builtin.MAX_POOL_2D, Builtin.AVERAGE_POOL_2D, Builtin.MEAN, Builtin.RELU, Builtin.PAD, Builtin.ADD):
        return 2 if int8 else 1
    if op == Builtin.DEQUANTIZE:
        return 2 if int8 else 1
    if op == Builtin.QUANTIZE:
        return 1
    if op == Builtin.RESHAPE:
        return 1
    raise ValueError(f"no version rule for builtin {op}")


# Highest version of each builtin the TFLite build inside @tensorflow/tfjs-tflite 0.0.1-alpha.10
# is known to accept (PLATFORM-NOTES for the first four; the rest are checked by the browser test).
TFJS_TFLITE_MAX_VERSION = {
    Builtin.CONV_2D: 6,
    Builtin.FULLY_CONNECTED: 9,
    Builtin.QUANTIZE: 3,
    Builtin.DEQUANTIZE: 5,
    Builtin.MAX_POOL_2D: 3,
    Builtin.AVERAGE_POOL_2D: 3,
    Builtin.MEAN: 3,
    Builtin.RELU: 3,
    Builtin.RESHAPE: 1,
    Builtin.PAD: 4,
    Builtin.ADD: 2,
}
