# Environment for every rackscan run: offline Ultralytics with the project's own config folder.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=false YOLO_VERBOSE=false
export YOLO_CONFIG_DIR="$ROOT/.yolo-config"
export MAVLINK20=1 RAY_USAGE_STATS_ENABLED=0
mkdir -p "$YOLO_CONFIG_DIR/Ultralytics"
for f in Arial.ttf Arial.Unicode.ttf; do
  [ -f "$YOLO_CONFIG_DIR/Ultralytics/$f" ] || cp "$ROOT/perception/assets/DejaVuSans.ttf" "$YOLO_CONFIG_DIR/Ultralytics/$f"
done
