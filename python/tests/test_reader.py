"""Tests of the shard reader against a build made by the Swift stages.

    ECLIPSE_BUILD=builds/demo python3 -m unittest discover -s python/tests
The Swift test suite runs this on a fresh build; it needs numpy and safetensors."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import numpy as np  # noqa: E402
from eclipse_shards import ShardIndex  # noqa: E402

BUILD = os.environ.get("ECLIPSE_BUILD", "builds/demo")
CATALOG_TOOL = os.environ.get("ECLIPSE_CATALOG_TOOL", ".build/release/catalog")


class ReaderTests(unittest.TestCase):
    def setUp(self):
        self.index = ShardIndex(BUILD)

    def test_rows_hold_the_schema(self):
        self.assertGreater(len(self.index), 0)
        sample = self.index.sample_ids()[0]
        row = self.index.row(sample)
        self.assertEqual(row["interleaved_text"].shape[0], 77)
        self.assertEqual(row["attention_mask"].shape, (77,))
        count = int(row["subject_count"])
        self.assertTrue(1 <= count <= row["subject_embeds"].shape[0])
        # The substitution: masked positions hold the subject embedding.
        mask = row["subject_token_mask"]
        for j in range(count):
            for p in np.nonzero(mask[j])[0]:
                owner = max(k for k in range(mask.shape[0]) if mask[k, p])
                np.testing.assert_array_equal(row["interleaved_text"][p], row["subject_embeds"][owner])
        self.assertEqual(self.index.metadata(sample)["schema_version"], "2")
        # Schema 2: the shard's zero-image embedding; rows without a Canny image hold it as control.
        zero = self.index.shard_tensor(sample)
        self.assertEqual(zero.shape, (1, row["control_embeds"].shape[0]))
        self.assertNotIn("zero_image_embeds", row)

    def test_epoch_order_matches_the_catalog_tool(self):
        if not os.path.exists(CATALOG_TOOL):
            self.skipTest(f"{CATALOG_TOOL} not built")
        out = subprocess.run([CATALOG_TOOL, "order", "--catalog", os.path.join(BUILD, "catalog.sqlite"), "--seed", "7",
                              "--epoch", "2"], capture_output=True, text=True, check=True).stdout
        self.assertEqual([line.split("\t")[2] for line in out.splitlines()], self.index.epoch_order("train", seed=7, epoch=2))
        self.assertNotEqual(self.index.epoch_order("train", seed=7, epoch=2), self.index.epoch_order("train", seed=7, epoch=3))
        self.assertEqual(set(self.index.epoch_order("train") + self.index.epoch_order("val")), set(self.index.sample_ids()))

    def test_pytorch_dataset_when_torch_is_present(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            self.skipTest("torch is not installed")
        from eclipse_shards import ShardDataset
        data = ShardDataset(BUILD, split="train", seed=1)
        self.assertEqual(len(data), len(self.index.epoch_order("train", seed=1)))
        item = data[0]
        self.assertEqual(item["interleaved_text"].dtype, torch.float32)
        self.assertEqual(tuple(item["attention_mask"].shape), (77,))
        batch = next(iter(torch.utils.data.DataLoader(data, batch_size=2)))
        self.assertEqual(batch["target_image_embeds"].shape[0], min(2, len(data)))

    def test_index_and_dataset_pickle(self):
        import pickle
        copy = pickle.loads(pickle.dumps(self.index))
        sample = self.index.sample_ids()[0]
        np.testing.assert_array_equal(copy.row(sample)["interleaved_text"], self.index.row(sample)["interleaved_text"])
        try:
            from eclipse_shards import ShardDataset
        except ImportError:
            self.skipTest("torch is not installed")
        self.index.row(sample)  # an open shard file must not stop it pickling
        data = pickle.loads(pickle.dumps(ShardDataset(BUILD, split="train", seed=1)))
        self.assertEqual(len(data), len(self.index.epoch_order("train", seed=1)))

    def test_dataloader_workers_under_every_start_method(self):
        try:
            import torch
            from eclipse_shards import ShardDataset
        except ImportError:
            self.skipTest("torch is not installed")
        import multiprocessing
        data = ShardDataset(BUILD, split="train", seed=1)
        data[0]  # the parent has read a shard before the workers start
        expected = [b["target_image_embeds"] for b in torch.utils.data.DataLoader(data, batch_size=2)]
        for method in ("fork", "spawn", "forkserver"):
            if method not in multiprocessing.get_all_start_methods():
                continue
            with self.subTest(method=method):
                loader = torch.utils.data.DataLoader(data, batch_size=2, num_workers=2, multiprocessing_context=method)
                got = [b["target_image_embeds"] for b in loader]
                self.assertEqual(len(got), len(expected))
                for a, b in zip(got, expected):
                    self.assertTrue(torch.equal(a, b))


if __name__ == "__main__":
    unittest.main()
