#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mlpcl's model files read with numpy alone, as an independent check of the C code: the
safetensors layout parsed by hand (no safetensors package) and the network's forward pass.

    load(path) -> (metadata, tensors)
    predict(metadata, tensors, X) -> outputs

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON mapping each
tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets from the end of the
header) plus "__metadata__" (strings), then the tensors' little-endian bytes.

    safetensors_numpy.py MODEL   prints the metadata and the tensors' dtypes and shapes."""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}


def load(path):
    """Returns (metadata: dict of str, tensors: dict of name -> np.ndarray, in the file's dtype:
    float32 for F32, float64 for F64)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        a = np.frombuffer(data[begin:end], dtype=DTYPES[t["dtype"]])
        tensors[name] = a.reshape(t["shape"])
    return metadata, tensors


ACTIVATIONS = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def predict(metadata, tensors, X):
    """The network's outputs for X (samples × inputs): X standardised with norm.mean and
    norm.std when the file has them, then per layer A = act(A·Wᵀ + b) (W is [out, in] from
    format_version 2 on, as PyTorch's nn.Linear; files without format_version hold [in, out]);
    with the "ce" loss the last layer is a softmax instead of its activation."""
    T = {name: t.astype(np.float64) for name, t in tensors.items()}  # computed in double
    A = np.asarray(X, dtype=np.float64)
    if "norm.mean" in T:
        A = (A - T["norm.mean"]) / T["norm.std"]
    acts = metadata["activations"].split(",")
    torch_layout = int(metadata.get("format_version", "1")) >= 2
    for l, act in enumerate(acts, start=1):
        W = T[f"layers.{l}.weight"]
        Z = A @ (W.T if torch_layout else W) + T[f"layers.{l}.bias"]
        last = l == len(acts)
        A = softmax(Z) if last and metadata["loss"] == "ce" else ACTIVATIONS[act](Z)
    return A


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    metadata, tensors = load(sys.argv[1])
    for key, value in metadata.items():
        print(f"{key}: {value}")
    for name, t in tensors.items():
        print(f"{name}: {'F32' if t.dtype == np.float32 else 'F64'} {list(t.shape)}")
