"""Helpers shared by the benchmark scripts: machine info, aggregation, JSON and Markdown output.

Not part of the package; imported by the scripts in this folder as ``_common``
(each script puts its own folder on ``sys.path`` first, as Python does for
``python benchmarks/<script>.py``).
"""

import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def command_line():
    """The exact command that started this process, quoted for a shell."""
    return " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable), *sys.argv])


def machine_info(device="cpu"):
    """Platform, CPU count, library versions and the date, as a dict."""
    import sklearn
    import skorch
    import torch

    import sklearn_autobalance

    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "skorch": skorch.__version__,
        "sklearn": sklearn.__version__,
        "sklearn_autobalance": sklearn_autobalance.__version__,
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def machine_markdown(info, command):
    """A short Markdown block: command, date, machine."""
    gpu = f", GPU {info['gpu']} (CUDA {info['cuda']})" if "gpu" in info else ""
    return (
        f"Command: `{command}`\n\n"
        f"Date: {info['date']}. Machine: {info['platform']}, {info['cpu_count']} CPUs "
        f"({info['cpu_affinity']} usable, torch threads {info['torch_threads']}){gpu}; "
        f"Python {info['python']}, torch {info['torch']}, skorch {info['skorch']}, "
        f"scikit-learn {info['sklearn']}, sklearn_autobalance {info['sklearn_autobalance']}; "
        f"device `{info['device']}`.\n"
    )


def mean_std(values, fmt="{:.2f}"):
    """``"mean ± std"`` (sample std, ddof=1) of the finite values; ``"n/a"`` if none."""
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if values.size == 0:
        return "n/a"
    if values.size == 1:
        return fmt.format(values[0]) + " (1 seed)"
    return f"{fmt.format(values.mean())} ± {fmt.format(values.std(ddof=1))}"


def markdown_table(header, rows):
    """A GitHub-flavoured Markdown table from a header list and a list of row lists."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def write_json(path, payload):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(payload), indent=1))
    tmp.replace(path)


def write_text(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def default_paths(name, quick, out=None, json_path=None):
    """Markdown and JSON paths: ``results/<name>[_quick].{md,json}`` unless given."""
    stem = name + ("_quick" if quick else "")
    out = Path(out) if out else RESULTS_DIR / f"{stem}.md"
    json_path = Path(json_path) if json_path else RESULTS_DIR / f"{out.stem}.json"
    return out, json_path


def add_network_arguments(parser, *, hidden=(128, 128), max_epochs=50, batch_size=128,
                          hidden_help="hidden_layer_sizes of the MLP"):
    """The network and training options every model benchmark shares.

    ``--hidden``, ``--max-epochs``, ``--batch-size``, ``--lr``, ``--device`` and
    ``--threads`` (``torch.set_num_threads``; 0 leaves torch's default).
    """
    parser.add_argument("--hidden", nargs="*", type=int,
                        default=None if hidden is None else list(hidden), help=hidden_help)
    parser.add_argument("--max-epochs", type=int, default=max_epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (0: leave torch's default). 1 is much "
                             "faster than 2 on a shared 2-core machine for these small networks")


def add_output_arguments(parser, name):
    """``--out`` (Markdown) and ``--json`` for the results of benchmark ``name``."""
    parser.add_argument("--out", default=None,
                        help=f"Markdown output (default results/{name}[_quick].md)")
    parser.add_argument("--json", default=None,
                        help="JSON output (default results/<out stem>.json)")


def vm_hwm_mib():
    """Peak RSS of this process's own address space (``VmHWM``), or None off Linux.

    ``ru_maxrss`` is not used as the headline number: on Linux, ``execve`` folds
    the pre-exec (forked) address space's high-water mark into it, so a child
    started from a big parent reports at least the parent's RSS at fork time.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None
