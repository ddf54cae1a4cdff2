#!/usr/bin/env bash
# Idempotent setup: system packages, .venv with the pinned stack, rackscan installed editable.
# A second run with nothing changed does nothing (a stamp records the lock file's hash).
set -euo pipefail
cd "$(dirname "$0")/.."

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

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.rackscan-setup
want="$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: installing the pinned Python stack into .venv (first run takes a few minutes)"
.venv/bin/pip install -q --upgrade pip >/dev/null
# torch and torchvision are pinned in the lock file; pip takes them from the local wheel store.
.venv/bin/pip install -q -r requirements.lock
# Ultralytics pulls opencv-python, which clashes with the headless build (both write cv2/).
.venv/bin/pip uninstall -q -y opencv-python opencv-contrib-python 2>/dev/null || true
.venv/bin/pip install -q --force-reinstall --no-deps "$(grep -i '^opencv-python-headless==' requirements.lock)"
.venv/bin/pip install -q --no-deps -e .
.venv/bin/python - <<'PY'
import cv2, zxingcpp, pyzbar.pyzbar, torch, torchvision, ultralytics, onnxruntime  # noqa: F401
print(f"setup: ok (torch {torch.__version__}, opencv {cv2.__version__})")
PY
echo "$want" > "$stamp"
