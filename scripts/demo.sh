#!/usr/bin/env bash
# The main job end to end on the bundled demo data:
# generate fixtures -> validate -> convert -> clean -> split -> stats -> augment-preview -> fit -> evaluate -> predict.
# Everything is written under the build folder ($2); the committed fixtures are never modified.
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=${2:-build/demo}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
case $OUT in /*) ABS_OUT=$OUT ;; *) ABS_OUT=$PWD/$OUT ;; esac  # an absolute OUT stays where it is
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$ABS_OUT/cache}

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# A fresh run each time: the output files too (named output files are never overwritten without --force).
rm -rf "$OUT/fixtures" "$OUT/raw" "$OUT/raw.quarantine" "$OUT/split" "$OUT/run" \
  "$OUT/findings.csv" "$OUT/stats.png" "$OUT/augment-preview.png" "$OUT/confusion.png" "$OUT/predictions.png"
mkdir -p "$OUT"

step "generate the demo data (fixtures/make_fixtures.py --out $OUT/fixtures)"
"$BIN/python" fixtures/make_fixtures.py --out "$OUT/fixtures"
cp -r "$OUT/fixtures/demo" "$OUT/raw"

step "dataprep validate $OUT/raw   (finds the planted bad files; exit 1 means 'errors found')"
"$BIN/dataprep" validate "$OUT/raw" --csv "$OUT/findings.csv" || [ $? -eq 1 ]

step "dataprep convert $OUT/raw   (a PPM TensorFlow cannot read -> PNG; a sideways phone photo -> upright)"
"$BIN/dataprep" convert "$OUT/raw"

step "dataprep clean $OUT/raw   (quarantines them, with a manifest; undo: dataprep restore)"
"$BIN/dataprep" clean "$OUT/raw"

step "dataprep split $OUT/raw $OUT/split --val 0.2 --test 0.1"
"$BIN/dataprep" split "$OUT/raw" "$OUT/split" --val 0.2 --test 0.1

step "dataprep stats $OUT/split --plot $OUT/stats.png"
"$BIN/dataprep" stats "$OUT/split" --plot "$OUT/stats.png"

# Shapes rotated by the default augmentation's ±36° only slow learning down here: flips only.
AUGMENT=flip=horizontal
step "dataprep augment-preview $OUT/split/train --augment $AUGMENT --out $OUT/augment-preview.png"
"$BIN/dataprep" augment-preview "$OUT/split/train" --augment "$AUGMENT" --out "$OUT/augment-preview.png" --force

# About 70 s of training on 2 CPU cores; the demo data is made to be learnable at 64 px.
FIT=(--model compact_cnn --image-size 64 --batch-size 16 --epochs 30 --augment "$AUGMENT")
step "trainer fit $OUT/split ${FIT[*]} --run-dir $OUT/run"
"$BIN/trainer" fit "$OUT/split" "${FIT[@]}" --run-dir "$OUT/run"

step "trainer evaluate $OUT/run $OUT/split   (confusion matrix, most confidently wrong files)"
"$BIN/trainer" evaluate "$OUT/run" "$OUT/split" --confusion "$OUT/confusion.png"

step "trainer predict $OUT/run $OUT/split/test --grid $OUT/predictions.png"
"$BIN/trainer" predict "$OUT/run" "$OUT/split/test" --grid "$OUT/predictions.png" > "$OUT/predictions.txt"
echo "predictions for $(wc -l < "$OUT/predictions.txt") test images: $OUT/predictions.txt, $OUT/predictions.png"

step "done: everything is under $OUT/"
ls "$OUT" "$OUT/run"
"$BIN/python" - "$OUT/run/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
print(f"\ntest accuracy: {m['test_accuracy']:.3f} ({m['model']}, {m['epochs_run']} epochs, {m['train_seconds']:.0f} s of training)")
PY
