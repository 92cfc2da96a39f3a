"""TFRecord files without TensorFlow: framing, CRC32C, and random access to TFDS tfrecord datasets.

A TFRecord file is a sequence of records, each framed as
  uint64 length (little endian) | uint32 masked crc32c(length) | data | uint32 masked crc32c(data).
TFDS datasets prepared with file_format="tfrecord" (the RL Unplugged datasets, the text corpora)
store one serialized `tf.train.Example` per record; `TfdsRecordSource` indexes their shards once
and decodes records with the dataset's own features (TFDS's numpy example parser), so any prepared
TFDS tfrecord dataset is a random-access source.
"""

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected
_TABLE = np.zeros(256, np.uint32)
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE[_i] = _c
_TABLE_LIST = [int(x) for x in _TABLE]


def crc32c(data: bytes) -> int:
    """CRC-32C of `data` (pure Python: about 10 MB/s, used for headers and small records)."""
    crc = 0xFFFFFFFF
    table = _TABLE_LIST
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 and add a constant (mod 2**32)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def write_records(path: str | Path, records: list[bytes]) -> None:
    """Writes `records` as an uncompressed TFRecord file."""
    with open(path, "wb") as f:
        for data in records:
            header = struct.pack("<Q", len(data))
            f.write(header + struct.pack("<I", masked_crc(header)))
            f.write(data + struct.pack("<I", masked_crc(data)))


def index_records(path: str | Path) -> list[tuple[int, int]]:
    """(offset of data, length) of every record, checking each length's CRC and the file size."""
    index, size = [], os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset < size:
            header = f.read(12)
            if len(header) < 12:
                raise ValueError(f"{path}: truncated record header at byte {offset}")
            (length,), (crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
            if crc != masked_crc(header[:8]):
                raise ValueError(f"{path}: corrupt record length at byte {offset}")
            if offset + 16 + length > size:
                raise ValueError(f"{path}: truncated record at byte {offset}")
            index.append((offset + 12, length))
            offset += 16 + length
            f.seek(offset)
    return index


def read_record(path: str | Path, offset: int, length: int, verify: bool = False) -> bytes:
    """The data of one record; `verify` also checks its CRC (slow for large records)."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length + 4)
    if len(data) != length + 4:
        raise ValueError(f"{path}: truncated record at byte {offset - 12}")
    if verify and struct.unpack("<I", data[length:])[0] != masked_crc(data[:length]):
        raise ValueError(f"{path}: corrupt record data at byte {offset - 12}")
    return data[:length]


class TfdsRecordSource:
    """Random access to one split of a TFDS dataset prepared as tfrecord, decoded to numpy.

    `builder_dir` is the version directory holding dataset_info.json, features.json and the
    `<name>-<split>.tfrecord-XXXXX-of-YYYYY` shards. Items are the decoded example dicts.
    """

    def __init__(self, builder_dir: str | Path, split: str = "train", verify: bool = False):
        self.builder_dir = Path(builder_dir)
        self.split = split
        self.verify = verify
        self._features: Any = None
        self._index: list[tuple[Path, int, int]] | None = None

    def _load(self) -> None:
        import tensorflow_datasets as tfds

        info = tfds.builder_from_directory(self.builder_dir).info
        if self.split not in info.splits:
            raise KeyError(f"split {self.split!r} not in {self.builder_dir}; "
                           f"splits: {sorted(info.splits.keys())}")
        shards = sorted(self.builder_dir.glob(f"{info.name}-{self.split}.tfrecord-*"))
        if not shards:
            raise FileNotFoundError(f"no {self.split!r} tfrecord shards in {self.builder_dir}")
        self._features = info.features
        self._index = [(p, o, n) for p in shards for o, n in index_records(p)]

    def __len__(self) -> int:
        if self._index is None:
            self._load()
        return len(self._index)

    @property
    def features(self) -> Any:
        """The dataset's top-level TFDS features (FeaturesDict)."""
        if self._index is None:
            self._load()
        return self._features

    def __getitem__(self, i: int) -> Any:
        if self._index is None:
            self._load()
        path, offset, length = self._index[i]
        return self._features.deserialize_example_np(read_record(path, offset, length,
                                                                 self.verify))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_features": None, "_index": None}
