"""Minimal safetensors writer/reader (no `safetensors` package needed).

Format (https://github.com/huggingface/safetensors, "Format" section):
  * 8 bytes: little-endian unsigned 64-bit N = length of the JSON header;
  * N bytes: UTF-8 JSON object. Each key is a tensor name mapped to
    {"dtype": "F32"|..., "shape": [...], "data_offsets": [begin, end]}
    with offsets relative to the first byte after the header. The optional
    key "__metadata__" maps to a flat {str: str} object;
  * the byte buffer, tensors stored little-endian, row-major (C order).

This writer sorts tensors by name, lays them out back to back in that order
and pads the JSON header with spaces (0x20) so that 8 + N is a multiple of 8,
which keeps every tensor of up to 8-byte elements naturally aligned as long
as each tensor's byte size is a multiple of its element size (always true).
"""
from __future__ import annotations

import json
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

# torch dtype -> (safetensors dtype string, numpy dtype)
_TORCH_TO_ST = {
    torch.float64: ("F64", np.dtype("<f8")),
    torch.float32: ("F32", np.dtype("<f4")),
    torch.float16: ("F16", np.dtype("<f2")),
    torch.bfloat16: ("BF16", None),  # numpy has no bfloat16: handled by bit view
    torch.int64: ("I64", np.dtype("<i8")),
    torch.int32: ("I32", np.dtype("<i4")),
    torch.int16: ("I16", np.dtype("<i2")),
    torch.int8: ("I8", np.dtype("i1")),
    torch.uint8: ("U8", np.dtype("u1")),
    torch.bool: ("BOOL", np.dtype("?")),
}
_ST_TO_TORCH = {v[0]: k for k, v in _TORCH_TO_ST.items()}
_ST_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
            "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _tensor_bytes(t: torch.Tensor) -> Tuple[str, bytes]:
    t = t.detach().cpu().contiguous()
    if t.dtype not in _TORCH_TO_ST:
        raise TypeError(f"unsupported dtype {t.dtype}")
    st, npdt = _TORCH_TO_ST[t.dtype]
    if t.dtype == torch.bfloat16:
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
    else:
        raw = t.numpy().astype(npdt, copy=False).tobytes()
    return st, raw


def serialize(tensors: Mapping[str, torch.Tensor],
              metadata: Optional[Mapping[str, str]] = None) -> bytes:
    header: Dict[str, object] = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("__metadata__ must map str -> str")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        st, raw = _tensor_bytes(tensors[name])
        header[name] = {"dtype": st, "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    pad = (8 - (8 + len(hjson)) % 8) % 8
    hjson += b" " * pad
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(blobs)


def save_file(tensors: Mapping[str, torch.Tensor], path: str,
              metadata: Optional[Mapping[str, str]] = None) -> int:
    data = serialize(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def deserialize(data: bytes) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    if len(data) < 8:
        raise ValueError("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("header length beyond file size")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        st = info["dtype"]
        b, e = info["data_offsets"]
        shape = info["shape"]
        count = int(np.prod(shape)) if shape else 1
        if e - b != count * _ST_SIZE[st] or e > len(body):
            raise ValueError(f"bad offsets for {name}")
        raw = bytes(body[b:e])
        if st == "BF16":
            arr = np.frombuffer(raw, dtype="<i2").copy()
            t = torch.from_numpy(arr).view(torch.bfloat16)
        else:
            npdt = _TORCH_TO_ST[_ST_TO_TORCH[st]][1]
            t = torch.from_numpy(np.frombuffer(raw, dtype=npdt).copy())
        out[name] = t.reshape(shape)
    return out, meta


def load_file(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    with open(path, "rb") as f:
        return deserialize(f.read())
