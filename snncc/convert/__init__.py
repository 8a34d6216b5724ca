"""ANN-to-SNN conversion: an ONNX ANN -> a FLOAT-stage snncc graph of IF neurons (`snncc convert`)."""
