#!/usr/bin/env bash
# The σ_d study (README.md here): arms A (today), B (σ_d from the uncentred second moment), C (x centred on its
# training mean) on the exact check, VE, the default recipe (1,000 epochs), both default samplers, 200 test cases x
# 500 samples, one run at a time, one torch thread. Usage: run.sh SEED NOISE ARM... ; skips finished runs.
# Needs data/advdiff_noclip.h5 (python -m data_gen problem=advdiff problem.clip=false).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
PY=${PY:-/work/main/.venv/bin/python}
seed=$1 noise=$2
shift 2
for arm in "$@"; do
  case $arm in
    A) extra=() ;;
    B) extra=(loss.sigma_data=0.2654048803323865) ;;  # sqrt(mean x^2) of the min-max-normalised training x
    C) extra=(data._target_=centred.CentredX) ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
  dir=outputs/sigma_data/${arm}_noise${noise}_seed${seed}
  [[ -f $dir/metrics.json ]] && continue
  PYTHONPATH=experiments/fast_posteriors/sigma_data "$PY" -m diffinv.train experiment=exact_check hydra.mode=RUN \
    formulation=ve data.noise="$noise" seed="$seed" torch_threads=1 \
    problem.evaluator.n_test=200 evaluation.n_samples=500 hydra.run.dir="$dir" "${extra[@]}"
done
