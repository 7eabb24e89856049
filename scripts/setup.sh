#!/usr/bin/env bash
# Installs everything reram needs on a fresh Debian/Ubuntu machine: the Fashion-MNIST package,
# espeak-ng (synthesized keyword-spotting data), bible-kjv (the King James Bible, public-domain
# text for the character-level GPT), a pinned CPU torch, and reram itself with its
# test tools, librosa (MFCC features) and the sweep extra (Dask, pyarrow). Safe to run again.
set -euo pipefail
PY=${PY:-python3}
TORCH=${TORCH:-torch==2.13.0}
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
if { [ ! -d /usr/share/datasets/fashion-mnist ] || ! command -v espeak-ng >/dev/null || ! command -v bible >/dev/null; } \
   && command -v apt-get >/dev/null; then
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist espeak-ng bible-kjv
fi
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
$PY -m pip install -q "$TORCH"
$PY -m pip install -q -e ".[dev,speech,sweep]"
