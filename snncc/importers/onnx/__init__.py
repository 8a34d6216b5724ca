"""Read an ONNX ANN into a float ANN description (snncc/ann.py): a DAG of linear IR ops, ReLUs and sums.

Supported nodes: Conv (2-D, symmetric padding), Gemm, MatMul (+ Add of a constant bias),
BatchNormalization (folded into the Conv/Gemm/MatMul before it, exactly), Relu, AveragePool,
GlobalAveragePool (and ReduceMean over height and width, as torch's dynamo exporter writes it),
Flatten and Reshape to one vector per sample, a Reshape of the model's input (the SNN then takes
the reshaped samples; data of either shape is accepted), Dropout and Identity (bypassed:
inference semantics), and Add/Sum of branches (residual connections, with or without a
Conv+BatchNormalization projection on the skip path) followed by a Relu.  MaxPool/GlobalMaxPool
only as the named approximation ``maxpool-as-avgpool``.  Weights come from initializers (or
Constant nodes); shapes from the model's input.  Everything else (MaxPool by default, Softmax, ...)
is reported with its ONNX node name, all problems at once.

Codes: LOD003 no such file, LOD101 not a readable ONNX model, LOD102 its external weights file is
missing, LOD103 its external weights would be read from outside its folder, IMT101 unsupported
node, IMT102 unsupported setting of a supported node, IMT103 a join snncc cannot sum (not Add, or
a sum not followed by a Relu), IMT104 inputs/outputs of the model, IMT105 a weight is computed at
run time, IMT030 an unknown approximation.

Modules: load.py reads the file safely, importer.py walks the graph, nodes.py holds one converter
per operator (the table CONVERTERS), ann_builder.py the ANN built so far.
"""

from .importer import check_approximations, import_onnx
from .load import load_onnx
from .nodes import APPROXIMATIONS

__all__ = ["APPROXIMATIONS", "check_approximations", "import_onnx", "load_onnx"]
