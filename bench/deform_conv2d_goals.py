"""The issue's goals table for DeformConv2d from a recorded benchmark run, without a GPU.

Reads bench/results/deform_conv2d_<device>.json (written by bench_deform_conv2d.py), asks the layer's own
"auto" rule (chooseAlgorithm, pure logic, through the shim built with nvcc) which algorithm runs each row on
the GPU described by --major / --shared-kb, and prints the markdown table of plugins/deform_conv2d/README.md:
auto's time (what IPluginV2DynamicExt runs) and, where recorded, the tactic TensorRT's builder would keep for
the IPluginV3 plugin, against torchvision, the dense conv and the floor, and whether each goal is met by each.
The kit's rows are its runs with the weight as trtkit.export writes it (GEMM rows, weight_layout=1); the
column "torchvision's weight layout" is the tactic given a [Cout, Cin/g, kh, kw] weight (weight_layout=0).

    python bench/deform_conv2d_goals.py [--json PATH] [--major 9] [--shared-kb 227] [--shim PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import dcn_shim  # noqa: E402
from bench_deform_conv2d import SHAPES  # noqa: E402

GOALS = {  # precision: (goal text, ratio to torchvision at most, ratio to the dense conv at most)
    "fp32": ("<= 0.7x tv", 0.7, None),
    "tf32": ("<= tv/3", 1 / 3, None),
    "fp16": ("<= tv/3, <= 1.5x conv", 1 / 3, 1.5),
}


def auto_algorithm(shim: dcn_shim.Shim, shape: str, og: int, precision: str, major: int, smem: int) -> str:
    _, n, cin, h, w, cout, k = next(s for s in SHAPES if s[0] == shape)
    meta = dict(device="meta")
    x = torch.empty(n, cin, h, w, **meta)
    weight = torch.empty(cout, cin, k, k, **meta)
    offset = torch.empty(n, 2 * og * k * k, h, w, **meta)  # the benchmark's stride 1, pad 1: Ho = H
    return shim.choose_algorithm(x, weight, offset, 1, og, precision, True, major, smem)


def tactic_label(choice: str) -> str:
    """ "0x22 sampled GEMM variant 2" (as the benchmark records it) -> "sampled + cuBLASLt #2"."""
    parts = choice.split()
    if len(parts) < 5:
        return choice
    algorithm, variant = parts[1], int(parts[4])
    if algorithm != "sampled":
        return algorithm
    return "sampled + cuBLAS" if variant == 0 else f"sampled + cuBLASLt #{variant}"


def rows(result: dict, shim: dcn_shim.Shim, major: int, smem: int) -> list[str]:
    prefix = "kit-" if any(k.startswith("kit-") for r in result["rows"] for k in r) else ""
    out = []
    for r in result["rows"]:
        for precision in ("fp32", "tf32") if r["dtype"] == "fp32" else ("fp16",):
            auto = auto_algorithm(shim, r["shape"], r["offset_groups"], precision, major, smem)

            def ms(algorithm: str, row: dict = r, precision: str = precision) -> float | None:
                return row.get(f"{prefix}{algorithm}_{precision}_ms")

            t, tv = ms(auto), r["torchvision_ms"]
            conv = r["conv_tf32_ms"] if precision == "tf32" else r["conv_ms"]
            floor = r[f"{precision}_floor_ms"]
            err = r[f"{prefix}{auto}_{precision}_relerr_vs_fp64"]
            text, tv_goal, conv_goal = GOALS[precision]

            def met(t: float, tv=tv, conv=conv, tv_goal=tv_goal, conv_goal=conv_goal) -> str:
                out = "yes" if t / tv <= tv_goal else "no"
                if conv_goal is not None:
                    out += "/" + ("yes" if t / conv <= conv_goal else "no")
                return out

            tactic = ms("tactic")
            choice = r.get(f"{prefix}tactic_{precision}_choice", "")
            v3 = "-" if tactic is None else f"{tactic:.3f} ({tactic_label(choice)})"
            v3_ratio = "-" if tactic is None else f"{tactic / tv:.3f}"
            v3_met = "-" if tactic is None else met(tactic)
            plain = ms("tactic-oihw")  # the tactic given torchvision's weight layout (re-laid per call)
            plain_cell = "-" if plain is None else f"{plain:.3f} ({plain / tv:.3f})"
            cells = [
                r["shape"],
                str(r["offset_groups"]),
                precision,
                auto,
                f"{t:.3f}",
                v3,
                v3_ratio,
                plain_cell,
            ]
            cells += ["-" if ms(a) is None else f"{ms(a):.3f}" for a in ("pipelined", "sampled", "fused")]
            cells += [f"{tv:.3f}", f"{t / tv:.3f}", f"{conv:.3f}", f"{t / conv:.2f}", f"{floor:.3f}"]
            cells += [f"{t / floor:.1f}", f"{err:.1e}", text, met(t), v3_met]
            out.append("| " + " | ".join(cells) + " |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    default_json = ROOT / "bench" / "results" / "deform_conv2d_NVIDIA_H100_80GB_HBM3.json"
    ap.add_argument("--json", default=str(default_json))
    ap.add_argument("--major", type=int, default=9, help="compute capability major of the recorded GPU")
    ap.add_argument("--shared-kb", type=int, default=227, help="its opt-in shared memory per block, KiB")
    ap.add_argument("--shim", help="a built bench/dcn_shim.cu (default: build it)")
    args = ap.parse_args()
    result = json.loads(Path(args.json).read_text())
    shim = dcn_shim.Shim(Path(args.shim) if args.shim else dcn_shim.build())
    header = (
        "| shape | og | mode | auto | auto ms | V3 tactic ms | tactic / tv "
        "| tactic, torchvision's weight layout: ms (/ tv) | pipelined ms | sampled ms "
        "| fused ms | torchvision ms | auto / tv | dense conv ms | auto / conv | floor ms | auto / floor "
        "| rel err vs fp64 | goal | met (auto) | met (tactic) |"
    )
    print(f"{result['device']}, {result['date']}\n")
    print(header)
    print("|" + "---|" * 21)
    print("\n".join(rows(result, shim, args.major, args.shared_kb * 1024)))


if __name__ == "__main__":
    main()
