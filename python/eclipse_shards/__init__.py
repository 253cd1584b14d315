"""Read λ-ECLIPSE training shards written by the `shard` stage, through the build's catalog.

Needs only numpy, safetensors and the standard library's sqlite3; `ShardDataset` is a PyTorch
Dataset when torch is importable.

    from eclipse_shards import ShardIndex
    index = ShardIndex("builds/demo")
    for sample_id in index.epoch_order("train", seed=0, epoch=0)[:4]:
        row = index.row(sample_id)            # dict of numpy arrays, one training row
        print(sample_id, row["interleaved_text"].shape, int(row["subject_count"]))
"""
import contextlib
import hashlib
import os
import sqlite3

from safetensors import safe_open

__all__ = ["ShardIndex", "ShardDataset", "SCHEMA_VERSION"]
SCHEMA_VERSION = 2
# Versions this reader reads: 2 adds the zero_image_embeds tensor to 1.
KNOWN_SCHEMA_VERSIONS = {1, 2}
# Tensors that hold one value per shard rather than one per row.
PER_SHARD_TENSORS = {"zero_image_embeds"}


class ShardIndex:
    """The shards and rows of one build (its `catalog.sqlite`, read once, read-only).

    It pickles, so a DataLoader's workers can take it whatever their start method (fork,
    spawn, forkserver): it keeps no catalog connection, and each process opens the shard files
    it reads itself, on first use."""

    def __init__(self, build_dir):
        self.build_dir = os.path.abspath(build_dir)
        path = os.path.join(self.build_dir, "catalog.sqlite")
        if not os.path.exists(path):
            raise FileNotFoundError(f"no catalog at {path}")
        self._rows = {}
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            for sample_id, shard_path, row, split in db.execute(
                    "SELECT r.sample_id, s.path, r.row, r.split FROM shard_rows r JOIN shards s ON s.id = r.shard"):
                self._rows[sample_id] = (shard_path, row, split)
            versions = {v for (v,) in db.execute("SELECT DISTINCT schema_version FROM shards")}
        if versions - KNOWN_SCHEMA_VERSIONS:
            raise ValueError(f"shard schema versions {sorted(versions)}; this reader knows {sorted(KNOWN_SCHEMA_VERSIONS)}")
        self._open, self._pid = {}, os.getpid()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_open"], state["_pid"] = {}, None  # open shard files stay with their process
        return state

    def __len__(self):
        return len(self._rows)

    def sample_ids(self, split=None):
        """Sample ids of a split ('train', 'val') or of all rows, in (shard, row) order."""
        items = [(p, r, s) for s, (p, r, sp) in self._rows.items() if split is None or sp == split]
        return [s for _, _, s in sorted(items)]

    def epoch_order(self, split, seed=0, epoch=0):
        """The seeded shuffled order of a split: ids sorted by SHA-256("<seed>:<epoch>:<id>"),
        the order `catalog order` prints."""
        ids = self.sample_ids(split)
        return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{epoch}:{i}".encode()).hexdigest())

    def location(self, sample_id):
        """(shard path relative to the build, row, split) of a sample."""
        return self._rows[sample_id]

    def _file(self, shard_path):
        if self._pid != os.getpid():  # unpickled, or inherited by a forked process
            self._open, self._pid = {}, os.getpid()
        if shard_path not in self._open:
            self._open[shard_path] = safe_open(os.path.join(self.build_dir, shard_path), framework="numpy")
        return self._open[shard_path]

    def metadata(self, sample_id):
        """The header metadata of the sample's shard (schema, models and hashes, config hash)."""
        return self._file(self._rows[sample_id][0]).metadata()

    def row(self, sample_id, names=None):
        """One training row as a dict of numpy arrays (float tensors as stored, f16 by default)."""
        shard_path, row, _ = self._rows[sample_id]
        f = self._file(shard_path)
        names = names or [k for k in f.keys() if k not in PER_SHARD_TENSORS]
        return {name: f.get_slice(name)[row] for name in names}

    def shard_tensor(self, sample_id, name="zero_image_embeds"):
        """A per-shard tensor of the sample's shard (the zero-image embedding, schema 2)."""
        return self._file(self._rows[sample_id][0]).get_tensor(name)


try:
    import torch

    class ShardDataset(torch.utils.data.Dataset):
        """A split as a PyTorch Dataset of dicts of tensors (float32), in a seeded epoch order."""

        def __init__(self, build_dir, split="train", seed=0, epoch=0):
            self.index = ShardIndex(build_dir)
            self.ids = self.index.epoch_order(split, seed, epoch)

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            row = self.index.row(self.ids[i])
            return {k: torch.from_numpy(v.astype("float32") if v.dtype.kind == "f" else v) for k, v in row.items()}
except ImportError:  # torch is optional
    ShardDataset = None
