"""``python -m diffinv.report DIR [--out DIR]``: a run or a multirun directory to a markdown report and
figures (docs/problems.md §5). The report is the problem family's: the evaluator class named in the runs'
configs (``problem.evaluator._target_``) writes it — Table 2 for the 2-D densities, the noise-sweep report
for the boundary-flux problems. Runs are labelled by :mod:`diffinv.run.records` (formulation parameters,
sampler settings, any other value in which they differ), so any sweep can be reported. A bad directory or
argument stops with one line and exit status 2, as every entry point (docs/usage.md §10)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hydra.utils import get_class

from diffinv.run.errors import exits_on_bad_input
from diffinv.run.records import collect, find_runs

USAGE = "python -m diffinv.report DIR [--out DIR]"


class ArgumentParser(argparse.ArgumentParser):
    """Argument errors as bad input (one line, exit status 2) rather than argparse's usage block."""

    def error(self, message: str):
        raise ValueError(f"{message} (usage: {USAGE})")


def report(directory: Path, out: Path) -> str:
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    rows = collect(find_runs(directory))
    families = sorted({r["evaluator"] for r in rows})
    if len(families) != 1:
        raise ValueError(f"{directory}: runs of several problem families ({families}); report one at a time")
    return get_class(families[0]).report(rows, directory, out)


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description="A run or multirun directory to report.md and figures.", usage=USAGE)
    parser.add_argument("directory", type=Path, help="a run or multirun directory")
    parser.add_argument("--out", type=Path, default=None, help="where report.md goes (default: DIRECTORY)")
    args = parser.parse_args(argv)
    text = report(args.directory, args.out or args.directory)
    print(text)
    print(f"\nwritten: {(args.out or args.directory) / 'report.md'}")


if __name__ == "__main__":
    main()
