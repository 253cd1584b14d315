"""Ingest throughput and peak memory, against a Python reference doing the same work.

The reference reads each key.jpg, opens it with Pillow (header only, as `verify: header` does;
or `.load()` for `verify: decode`), reads key.txt and key.json, and computes the SHA-256 id,
with a multiprocessing pool of as many processes as cores. Both sides read the same files, warm
in the page cache (each is run once untimed first).

Run: python3 scripts/bench_ingest.py [--samples 10000] (from the repository root, after
`swift build -c release`).
"""
import argparse, hashlib, json, os, resource, subprocess, sys, time
from multiprocessing import Pool

BIN = ".build/release"
ROOT = "builds/bench"


def run(cmd):
    """Runs a command; returns (seconds, peak RSS of that child in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(after, before) / 1024.0


def peak_rss(cmd):
    """Peak RSS of one command, via /usr/bin/time when present, else getrusage."""
    if os.path.exists("/usr/bin/time"):
        out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True).stderr.strip().splitlines()[-1]
        return int(out) / 1024.0
    return run(cmd)[1]


def sample(n):
    out = f"{ROOT}/data-{n}"
    marker = f"{out}/.eclipse-sample"
    if not os.path.exists(marker):
        subprocess.run([f"{BIN}/make-sample", "--output", out, "--per-layout", str(n), "--layouts", "folder",
                        "--seed", "7"], check=True, stdout=subprocess.DEVNULL)
    with open(f"{ROOT}/manifest-{n}.yaml", "w") as f:
        f.write(f"name: bench{n}\nsources:\n  - {{name: folder, format: folder, path: data-{n}/folder}}\n")
    return out


def pipeline(n, verify):
    path = f"{ROOT}/pipeline-{n}-{verify}.yaml"
    with open(path, "w") as f:
        f.write(f"name: bench-{n}-{verify}\nbuild_dir: build-{n}-{verify}\nmanifest: manifest-{n}.yaml\n"
                f"unit_size: 1000\ningest:\n  verify: {verify}\n")
    return path


def ingest(n, verify):
    path = pipeline(n, verify)
    subprocess.run(["rm", "-rf", f"{ROOT}/build-{n}-{verify}"], check=True)
    cmd = [f"{BIN}/ingest", "--pipeline", path, "--quiet"]
    seconds, _ = run(cmd)
    subprocess.run(["rm", "-rf", f"{ROOT}/build-{n}-{verify}"], check=True)
    return seconds, peak_rss(cmd)


def reference_one(args):
    stem, decode = args
    from PIL import Image
    with open(stem + ".jpg", "rb") as f:
        image = f.read()
    import io
    im = Image.open(io.BytesIO(image))
    if decode:
        im.load()
    size = im.size
    caption = open(stem + ".txt", "rb").read().decode("utf-8").strip()
    meta = json.load(open(stem + ".json"))
    digest = hashlib.sha256(image + caption.encode()).hexdigest()[:32]
    return digest, size, len(meta.get("mask", []))


def reference(folder, decode):
    stems = []
    for dirpath, _, files in os.walk(folder):
        stems += [os.path.join(dirpath, f[:-4]) for f in files if f.endswith(".jpg")]
    stems.sort()
    t = time.perf_counter()
    with Pool(os.cpu_count()) as pool:
        results = pool.map(reference_one, [(s, decode) for s in stems], chunksize=64)
    return time.perf_counter() - t, len(results)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=10000)
    args = parser.parse_args()
    n = args.samples
    small = max(1, n // 10)
    folder = sample(n) + "/folder"
    sample(small)
    print(f"# Ingest benchmark ({n} generated samples, {os.cpu_count()} cores)\n")
    print("| mode | ours (samples/s) | Python + Pillow reference (samples/s) | ratio |")
    print("|---|---|---|---|")
    for verify in ["header", "decode"]:
        ingest(n, verify)  # warm the page cache
        ours, _ = ingest(n, verify)
        reference(folder, verify == "decode")
        ref, count = reference(folder, verify == "decode")
        print(f"| verify: {verify} | {n / ours:.0f} | {count / ref:.0f} | {ref / ours:.2f}x |")
    _, rss_small = ingest(small, "header")
    _, rss_large = ingest(n, "header")
    print(f"\nPeak memory (verify: header): {rss_small:.1f} MiB at {small} samples, {rss_large:.1f} MiB at {n} samples.")


if __name__ == "__main__":
    main()
