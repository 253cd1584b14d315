#!/usr/bin/env bash
# Downloads the real model directories from Hugging Face into models/<owner>--<name>/, each file
# checked against the SHA-256 the Hub publishes for it (the X-Linked-Etag of LFS files), and
# never left half-written (download to .part, verify, rename). Usage: scripts/fetch_models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HUB="${HF_ENDPOINT:-https://huggingface.co}"
# repo|revision (the DINO safetensors file lives in the Hub's conversion pull request)
MODELS=(
  "openai/clip-vit-base-patch32|main"
  "openai/clip-vit-large-patch14|main"
  "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k|main"
  "facebook/dino-vits16|refs%2Fpr%2F1"
  "CIDAS/clipseg-rd64-refined|main"
)
SMALL_FILES=(config.json vocab.json merges.txt tokenizer_config.json special_tokens_map.json preprocessor_config.json)

if ! curl -fsS --max-time 20 -o /dev/null -I "$HUB/api/models/openai/clip-vit-base-patch32"; then
  echo "make models: cannot reach $HUB (no internet here?). Download these Hugging Face repositories on a" >&2
  echo "machine that can, into models/<owner>--<name>/ (config.json + model.safetensors + tokenizer files):" >&2
  for m in "${MODELS[@]}"; do echo "  ${m%%|*}" >&2; done
  exit 1
fi

fetch() {  # repo revision file destination; verifies LFS files by their published SHA-256
  local url="$HUB/$1/resolve/$2/$3" out="$4"
  [ -s "$out" ] && return 0
  local sha
  sha=$(curl -fsSIL "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-linked-etag"{gsub(/"/,"",$2); print $2}' | tail -1)
  if ! curl -fL --retry 3 -o "$out.part" "$url" 2>/dev/null; then rm -f "$out.part"; return 1; fi
  if [ -n "$sha" ] && [ ${#sha} -eq 64 ]; then
    local got; got=$(sha256sum "$out.part" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then echo "checksum mismatch for $1/$3: got $got, expected $sha" >&2; rm -f "$out.part"; exit 1; fi
    echo "  $3: sha256 $sha ok"
  else
    echo "  $3"
  fi
  mv "$out.part" "$out"
}

for m in "${MODELS[@]}"; do
  repo="${m%%|*}" rev="${m##*|}" dir="models/${repo/\//--}"
  mkdir -p "$dir"
  echo "$repo -> $dir"
  for f in "${SMALL_FILES[@]}"; do fetch "$repo" "$rev" "$f" "$dir/$f" || true; done
  [ -s "$dir/config.json" ] || { echo "no config.json for $repo" >&2; exit 1; }
  if ! fetch "$repo" "$rev" model.safetensors "$dir/model.safetensors"; then
    fetch "$repo" "$rev" model.safetensors.index.json "$dir/model.safetensors.index.json"
    for shard in $(python3 -c "import json,sys; print('\n'.join(sorted(set(json.load(open(sys.argv[1]))['weight_map'].values()))))" "$dir/model.safetensors.index.json"); do
      fetch "$repo" "$rev" "$shard" "$dir/$shard"
    done
  fi
done
echo "models are in models/; the stages take them as embed.model: ../models/<owner>--<name>"
