"""What a W&B offline run holds, read from its files without an account or network: the transaction log
``<run dir>/wandb/offline-run-*/run-<id>.wandb`` (wandb's protobuf ``Record`` messages in LevelDB's log
framing, the file ``wandb sync`` uploads) and the ``files/`` folder beside it."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024  # LevelDB log blocks; a record's 7-byte header never straddles two
HEADER = b":W&B"  # the file header: these 4 bytes, a 2-byte magic and a 1-byte version
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    path: Path  # the offline-run-* folder
    config: dict = field(default_factory=dict)  # top-level key -> value, wandb's own "_wandb" left out
    summary: dict = field(default_factory=dict)  # key -> last value; nested keys as nested dicts
    files: list[str] = field(default_factory=list)  # files recorded for upload, relative to files/


def records(path: Path):
    """The ``Record`` messages of a ``.wandb`` file, in order."""
    data = path.read_bytes()
    assert data[:4] == HEADER, f"{path}: not a W&B transaction log"
    position, pieces = 7, b""
    while position + 7 <= len(data):
        left = BLOCK - position % BLOCK
        if left < 7:  # block trailer: padding
            position += left
            continue
        _checksum, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if kind == 0:  # zero padding to the end of the block
            position += left
            continue
        pieces += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            pieces = b""
            yield record


def read_offline_run(run_dir: Path) -> OfflineRun:
    """The one offline W&B run under ``run_dir/wandb``."""
    (folder,) = (run_dir / "wandb").glob("offline-run-*")
    (log,) = folder.glob("run-*.wandb")
    run = OfflineRun(folder)
    for record in records(log):
        kind = record.WhichOneof("record_type")
        if kind == "config":
            run.config |= {u.key: json.loads(u.value_json) for u in record.config.update if u.key != "_wandb"}
        elif kind == "summary":
            for update in record.summary.update:
                *parents, key = [update.key] if update.key else list(update.nested_key)
                node = run.summary
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[key] = json.loads(update.value_json)
        elif kind == "files":
            run.files += [f.path for f in record.files.files]
    return run
