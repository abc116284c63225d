"""``python -m diffinv.report DIR [--out DIR]``: a run or a multirun directory to a markdown report and
figures (docs/problems.md §5). The report is the problem family's: the evaluator class named in the runs'
configs (``problem.evaluator._target_``) writes it — Table 2 for the 2-D densities, the noise-sweep report
for the boundary-flux problems."""

from __future__ import annotations

import argparse
from pathlib import Path

from hydra.utils import get_class

from diffinv.run.records import collect, find_runs


def report(directory: Path, out: Path) -> str:
    rows = collect(find_runs(directory))
    families = sorted({r["evaluator"] for r in rows})
    if len(families) != 1:
        raise ValueError(f"{directory}: runs of several problem families ({families}); report one at a time")
    return get_class(families[0]).report(rows, directory, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="a run or multirun directory")
    parser.add_argument("--out", type=Path, default=None, help="where report.md goes (default: DIRECTORY)")
    args = parser.parse_args(argv)
    text = report(args.directory, args.out or args.directory)
    print(text)
    print(f"\nwritten: {(args.out or args.directory) / 'report.md'}")


if __name__ == "__main__":
    main()
