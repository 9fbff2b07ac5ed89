"""The options of ``homodyne run`` as annotated types (typer reads them from the signature).

Kept here so that ``app.run_cmd`` is a short list of parameters; the help texts are the
command's ``--help``.
"""

from pathlib import Path
from typing import Annotated

import typer

PHI_HELP = "Bare arrays: angle of each matrix, deg (comma separated or repeated; '1.57 rad' ok)."

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML configuration (default: ./homodyne_config.yaml if it exists).",
    ),
]
MethodOpt = Annotated[
    str | None,
    typer.Option(
        "--method", "-m", help="nlsq | cmc | both (default: optimization.method, else nlsq)."
    ),
]
OutputDirOpt = Annotated[Path, typer.Option("--output-dir", "-o", help="Result folder.")]
DataFileOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--data-file",
        "-d",
        help="Data file(s) replacing experimental_data (repeat for several).",
    ),
]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="static | laminar_flow.")]
StaticModeOpt = Annotated[
    bool, typer.Option("--static-mode", help="Same as --mode static (2.x flag).", hidden=True)
]
LaminarFlowOpt = Annotated[
    bool,
    typer.Option("--laminar-flow", help="Same as --mode laminar_flow (2.x flag).", hidden=True),
]
ConventionOpt = Annotated[
    str | None,
    typer.Option("--convention", help="physical | homodyne2 (homodyne2 reproduces 2.x numbers)."),
]
QOpt = Annotated[
    list[float] | None, typer.Option("--q", help="q ring(s) in 1/A (repeat for several).")
]
JointQOpt = Annotated[
    bool,
    typer.Option(
        "--joint-q",
        help="Fit the --q rings of each file jointly: one D(t) and gamma_dot(t) for all rings.",
    ),
]
QRangeOpt = Annotated[
    tuple[float, float] | None,
    typer.Option(
        "--q-range",
        help="Fit every ring with MIN <= q <= MAX (1/A) of each file jointly (config q_range).",
    ),
]
PhiRangeOpt = Annotated[
    list[str] | None,
    typer.Option("--phi-range", help="Keep angles in MIN,MAX degrees (repeat for several)."),
]
StartFrameOpt = Annotated[int | None, typer.Option("--start-frame", help="1-based.")]
EndFrameOpt = Annotated[int | None, typer.Option("--end-frame", help="1-based; -1 = last.")]
ClipFramesOpt = Annotated[
    bool,
    typer.Option(
        "--clip-frames",
        help="Accept an end frame past the data and stop at its last frame (default: error).",
    ),
]
DtOpt = Annotated[float | None, typer.Option("--dt", help="Seconds between frames.")]
PhiOpt = Annotated[list[str] | None, typer.Option("--phi", help=PHI_HELP)]
InitialOpt = Annotated[
    list[str] | None, typer.Option("--initial", help="Start value NAME=VALUE (repeat).")
]
InitialD0Opt = Annotated[float | None, typer.Option("--initial-d0", hidden=True)]
InitialAlphaOpt = Annotated[float | None, typer.Option("--initial-alpha", hidden=True)]
InitialDOffsetOpt = Annotated[float | None, typer.Option("--initial-d-offset", hidden=True)]
InitialGammaDotT0Opt = Annotated[float | None, typer.Option("--initial-gamma-dot-t0", hidden=True)]
InitialBetaOpt = Annotated[float | None, typer.Option("--initial-beta", hidden=True)]
InitialGammaDotOffsetOpt = Annotated[
    float | None, typer.Option("--initial-gamma-dot-offset", hidden=True)
]
InitialPhi0Opt = Annotated[float | None, typer.Option("--initial-phi0", hidden=True)]
FixOpt = Annotated[
    list[str] | None,
    typer.Option("--fix", metavar="NAME[=VALUE]", help="Hold fixed at VALUE/start (repeat)."),
]
MaxIterationsOpt = Annotated[int | None, typer.Option("--max-iterations")]
SigmaOpt = Annotated[
    float | None,
    typer.Option("--sigma", help="Noise of one c2 value (default: estimated from residuals)."),
]
SeedOpt = Annotated[int | None, typer.Option("--seed")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="CPU threads to use.")]
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace results already in the output folder (default: write to a new -runN folder).",
    ),
]
NoPlotsOpt = Annotated[bool, typer.Option("--no-plots", help="Skip plots.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Config warnings are errors.")]
