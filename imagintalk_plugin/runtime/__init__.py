"""Inference backends (torch CPU/CUDA, onnxruntime) behind one interface; ONNX export."""
