#!/usr/bin/env bash
# The σ_d study (README.md here) on the exact check, VE, the default recipe (1,000 epochs), both default
# samplers, 200 test cases x 500 samples, one run at a time, one torch thread. Arms: A (today: min-max, σ_d from
# the centred variance), B (min-max, σ_d from the uncentred second moment), C (x centred on its training mean),
# D / E (x offset by -1 std per component; σ_d centred / uncentred). Usage: run.sh SEED NOISE ARM...; skips
# finished runs. Needs data/advdiff_noclip.h5 (python -m data_gen problem=advdiff problem.clip=false).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
PY=${PY:-/work/main/.venv/bin/python}
seed=$1 noise=$2
shift 2
for arm in "$@"; do
  # sigma_data numbers: the (centred, uncentred) RMS of the normalised training x, (0.2622, 0.2654) under min-max,
  # (0.2622, 0.3707) under OffsetX; measured by python (README.md here)
  case $arm in
    A) extra=() ;;
    B) extra=(loss.sigma_data=0.2654048803323865) ;;
    C) extra=(data._target_=centred.CentredX) ;;
    D) extra=(data._target_=centred.OffsetX loss.sigma_data=0.26215475853414955) ;;
    E) extra=(data._target_=centred.OffsetX loss.sigma_data=0.37074281495963834) ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
  dir=outputs/sigma_data/${arm}_noise${noise}_seed${seed}
  [[ -f $dir/metrics.json ]] && continue
  PYTHONPATH=experiments/fast_posteriors/sigma_data "$PY" -m diffinv.train experiment=exact_check hydra.mode=RUN \
    formulation=ve data.noise="$noise" seed="$seed" torch_threads=1 \
    problem.evaluator.n_test=200 evaluation.n_samples=500 hydra.run.dir="$dir" "${extra[@]}"
done
