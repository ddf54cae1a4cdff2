#!/usr/bin/env bash
# Idempotent setup: system packages, a virtual environment with the pinned stack, rackscan editable.
#   scripts/setup.sh [core|full] [VENV]     (default: full .venv)
# core: plan, fly, detect (ONNX Runtime), fuse, reconcile, dashboard and the test tools: no PyTorch.
# full: core + every extra (training and the PyTorch/GPU path, Ray, Rerun, Open3D).
# A second run with nothing changed does nothing (a stamp records the mode and the lock files' hash);
# a full environment also serves as a core one.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-full}
VENV=${2:-.venv}
case "$MODE" in core|full) ;; *) echo "setup: mode $MODE; expected core or full" >&2; exit 2 ;; esac

APT_PACKAGES=(libzbar0 libusb-1.0-0 libgomp1 chromium fonts-dejavu-core postgresql)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# no pip cache: on a fresh machine it would keep a second copy of every wheel downloaded (PyTorch's
# CUDA libraries are gigabytes); a CI run once ran out of disk during this install
export PIP_NO_CACHE_DIR=1
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
want="$(cat requirements.lock requirements-core.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
for m in full $MODE; do  # a full environment satisfies both modes
  if [ -f "$VENV/.rackscan-setup-$m" ] && [ "$(cat "$VENV/.rackscan-setup-$m")" = "$want" ]; then
    exit 0
  fi
done
echo "setup: installing the pinned $MODE stack into $VENV (first run takes a few minutes)"
start=$(date +%s)
"$VENV/bin/pip" install -q --upgrade pip >/dev/null
if [ "$MODE" = full ]; then
  # torch and torchvision are pinned in the lock file; pip takes them from the local wheel store.
  "$VENV/bin/pip" install -q -r requirements.lock
else
  "$VENV/bin/pip" install -q -c requirements.lock -r requirements-core.txt
fi
# trackers (ByteTrack) asks for opencv-python, which clashes with the headless build (both write
# cv2/), as Ultralytics does: install it without its dependencies and keep the headless build.
"$VENV/bin/pip" install -q --no-deps "$(grep -i '^trackers==' requirements.lock)"
"$VENV/bin/pip" uninstall -q -y opencv-python opencv-contrib-python 2>/dev/null || true
"$VENV/bin/pip" install -q --force-reinstall --no-deps "$(grep -i '^opencv-python-headless==' requirements.lock)"
"$VENV/bin/pip" install -q --no-deps -e .
if [ "$MODE" = full ]; then
  "$VENV/bin/python" -c "import cv2, zxingcpp, pyzbar.pyzbar, torch, torchvision, ultralytics, onnxruntime, trackers; print(f'setup: ok, full (torch {torch.__version__}, opencv {cv2.__version__})')"
else
  "$VENV/bin/python" -c "import cv2, zxingcpp, pyzbar.pyzbar, onnxruntime, trackers, importlib.util as u; assert u.find_spec('torch') is None, 'torch in a core install'; print(f'setup: ok, core (opencv {cv2.__version__}, no torch)')"
fi
echo "setup: $MODE install in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1) in $VENV"
echo "$want" > "$VENV/.rackscan-setup-$MODE"
