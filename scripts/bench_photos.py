"""The photo-sized sample the benchmarks share: `make-sample --photos` scenes (each side 1024-2048
px, JPEG quality 90, masks and captions in every input layout), drawn once under
builds/bench/pipeline/sample and reused while its stamp file says it has the same size."""
import os, shutil, subprocess

SAMPLE = "builds/bench/pipeline/sample"
PER_LAYOUT = 286  # 7 layouts x 286 = 2,002 scenes


def photo_sample(per_layout=PER_LAYOUT, binaries=".build/release"):
    stamp = os.path.join(SAMPLE, f".per-layout-{per_layout}")
    if not os.path.exists(stamp):
        shutil.rmtree(SAMPLE, ignore_errors=True)
        print(f"drawing {7 * per_layout} photo-sized scenes (once) ...", flush=True)
        subprocess.run([f"{binaries}/make-sample", "--output", SAMPLE, "--photos", "--per-layout", str(per_layout),
                        "--seed", "5"], check=True, capture_output=True)
        open(stamp, "w").close()
    return SAMPLE


def photo_files(count, per_layout=PER_LAYOUT):
    """The first `count` loose JPEG files of the sample (folder, list and COCO layouts), sorted."""
    sample = photo_sample(per_layout)
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(sample) for f in names if f.endswith(".jpg"))
    return files[:count]
