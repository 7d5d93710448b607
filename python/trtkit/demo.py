"""``trtkit demo``: the kit's main job, end to end, as far as this machine allows.

1. export a MYSELU model with both PyTorch exporters, for both plugin flavours (IPluginV3 and V2);
2. check every file (onnx.checker full check, shape inference);
3. compare the legacy and the dynamo node, field by field;
4. where the plugin library and a TensorRT runtime exist: load the library and create each plugin from the
   fields TensorRT's ONNX parser would pass for the exported node;
5. where also a GPU and the test harness exist: run the plugins through the harness (as TensorRT would call
   them) and the eager CUDA op, and print the largest error against PyTorch.

No TensorRT engine is built: the builder and parser are not part of what can be installed everywhere. A step
whose requirement is missing prints a line saying what is missing and how to get it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import onnx

CHANNELS = 16
SHAPE = (2, CHANNELS, 8, 8)
ATTRS: dict[str, Any] = {"axes": (1,), "gain": 1.5, "info": '{"layer": "act1"}'}
FLAVOURS = {"v3": "IPluginV3", "v2": "IPluginV2DynamicExt"}


class _Report:
    def __init__(self) -> None:
        self.failures = 0

    def step(self, text: str) -> None:
        print(f"\n== {text}")

    def ok(self, text: str) -> None:
        print(f"  ok       {text}")

    def missing(self, what: str, how: str) -> None:
        print(f"  MISSING  {what}: {how}")

    def fail(self, text: str) -> None:
        self.failures += 1
        print(f"  FAILED   {text}")


def run_demo(out: Path) -> int:
    report = _Report()
    try:
        import torch
    except ImportError as e:
        report.missing(str(e), "pip install torch (or tools/run.sh demo, which sets up .venv)")
        return 1
    exporters = ["legacy", "dynamo"]
    try:
        importlib.import_module("onnxscript")
    except ImportError as e:
        exporters = ["legacy"]
        report.missing(
            f"the dynamo exporter ({e})", "pip install onnxscript; exporting with the legacy one only"
        )

    import trtkit
    from trtkit.ops import MYSELU, MySelu

    torch.manual_seed(0)
    model = MySelu(CHANNELS, **ATTRS).eval()
    with torch.no_grad():
        model.p.copy_(torch.linspace(0.25, 2.0, CHANNELS))
    x = torch.randn(SHAPE) * 3
    out.mkdir(parents=True, exist_ok=True)

    report.step(f"1. export MYSELU{ATTRS} for x{list(SHAPE)} (dynamic batch) with {' and '.join(exporters)}")
    models: dict[tuple[str, str], onnx.ModelProto] = {}
    for plugin in FLAVOURS:
        for exporter in exporters:
            path = out / f"myselu_{exporter}_{plugin}.onnx"
            try:
                models[(plugin, exporter)] = trtkit.export(
                    model, (x,), path, dynamo=exporter == "dynamo", plugin=plugin
                )
                report.ok(f"{path}  ({FLAVOURS[plugin]} node, {exporter} exporter)")
            except Exception as e:  # noqa: BLE001 - report and go on with the other exports
                report.fail(f"{path}: {type(e).__name__}: {e}")

    report.step("2. onnx.checker (full check) and shape inference")
    for (plugin, exporter), m in models.items():
        try:
            onnx.checker.check_model(m, full_check=True)
            inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
            out_type = onnx.helper.printable_type(inferred.graph.output[0].type)
            report.ok(
                f"myselu_{exporter}_{plugin}.onnx: valid; output {inferred.graph.output[0].name}: {out_type}"
            )
        except Exception as e:  # noqa: BLE001
            report.fail(f"myselu_{exporter}_{plugin}.onnx: {type(e).__name__}: {e}")

    report.step("3. the two exporters' nodes, side by side")
    _compare(report, models)

    report.step("4. TensorRT: load the plugin library, create each plugin from the exported node's fields")
    trt = _load_tensorrt(report)
    plugins = _create_plugins(report, trt, models) if trt is not None else {}

    report.step("5. run the plugins through the harness and the eager CUDA op; error vs PyTorch (float64)")
    _run_on_gpu(report, trt, plugins, model, x, MYSELU)

    print()
    if report.failures:
        print(f"demo: {report.failures} step(s) FAILED")
        return 1
    print(f"demo: done; ONNX files in {out}")
    return 0


def _compare(report: _Report, models: dict[tuple[str, str], onnx.ModelProto]) -> None:
    from trtkit.onnx_schema import describe_node, kit_nodes

    for plugin in FLAVOURS:
        if (plugin, "legacy") not in models or (plugin, "dynamo") not in models:
            report.missing(f"{FLAVOURS[plugin]} comparison", "needs both exports (see step 1)")
            continue
        legacy = describe_node(kit_nodes(models[(plugin, "legacy")])[0])
        dynamo = describe_node(kit_nodes(models[(plugin, "dynamo")])[0])
        print(f"  {FLAVOURS[plugin]} node:")
        print(f"    {'field':<22} {'legacy exporter':<30} {'dynamo exporter':<30}")
        rows = [
            ("op_type", legacy["op_type"], dynamo["op_type"]),
            ("domain", legacy["domain"], dynamo["domain"]),
        ]
        rows.append(("inputs", ", ".join(legacy["inputs"]), ", ".join(dynamo["inputs"])))
        for name in dict.fromkeys([*legacy["attributes"], *dynamo["attributes"]]):
            la, da = legacy["attributes"].get(name), dynamo["attributes"].get(name)
            rows.append((name, _attr_text(la), _attr_text(da)))
        for field, a, b in rows:
            mark = "" if a == b else "   <-- differs"
            print(f"    {field:<22} {a:<30} {b:<30}{mark}")
        if legacy == dynamo:
            report.ok(f"{FLAVOURS[plugin]}: identical nodes")
        else:
            report.fail(f"{FLAVOURS[plugin]}: the exporters' nodes differ")


def _attr_text(attr: Any) -> str:
    if attr is None:
        return "(absent)"
    kind, value = attr
    return f"{kind} {value!r}"


def _load_tensorrt(report: _Report) -> Any:
    import trtkit

    try:
        from trtkit._library import tensorrt_runtime

        trt = tensorrt_runtime()
        trtkit.load()
    except NotImplementedError as e:
        report.missing("trtkit._library", str(e))
        return None
    except ImportError as e:
        report.missing("TensorRT runtime", str(e))
        return None
    except (RuntimeError, FileNotFoundError) as e:
        report.missing("plugin library", str(e))
        return None
    report.ok(f"{trtkit.library_path()} loaded into {trt.__name__} {getattr(trt, '__version__', '?')}")
    return trt


def _create_plugins(
    report: _Report, trt: Any, models: dict[tuple[str, str], onnx.ModelProto]
) -> dict[str, Any]:
    try:
        from trtkit.parser_fields import fields_from_node, plugin_identity, to_plugin_field_collection
    except ImportError as e:
        report.missing("trtkit.parser_fields", f"{e} (it replicates the ONNX parser's field conversion)")
        return {}
    from trtkit.onnx_schema import kit_nodes

    registry = trt.get_plugin_registry()
    created: dict[str, Any] = {}
    for plugin in FLAVOURS:
        for exporter in ("legacy", "dynamo"):
            if (plugin, exporter) not in models:
                continue
            node = kit_nodes(models[(plugin, exporter)])[0]
            name, version, namespace = plugin_identity(node)
            creator = registry.get_creator(name, version, namespace)
            if creator is None:
                report.fail(f"no creator for ({name}, {version}, {namespace}) in the registry")
                continue
            declared = [f.name for f in creator.field_names]
            fields = fields_from_node(node, declared)
            shown = ", ".join(f"{n}={t}[{length}]" for n, t, _, length in fields)
            try:
                fc = to_plugin_field_collection(fields, trt)
                if version == "1":
                    obj = creator.create_plugin(node.name or name, fc)
                else:
                    obj = creator.create_plugin(node.name or name, fc, trt.TensorRTPhase.BUILD)
            except Exception as e:  # noqa: BLE001
                report.fail(f"{FLAVOURS[plugin]} from the {exporter} node: {type(e).__name__}: {e}")
                continue
            if obj is None:
                report.fail(
                    f"{FLAVOURS[plugin]} from the {exporter} node: createPlugin returned null (see log)"
                )
                continue
            report.ok(
                f"{FLAVOURS[plugin]} ({name}, version {version}, namespace {namespace}) from the {exporter} "
                f"node's fields: {shown}"
            )
            created.setdefault(plugin, obj)
    return created


def _run_on_gpu(report: _Report, trt: Any, plugins: dict[str, Any], model: Any, x: Any, spec: Any) -> None:
    import torch

    if not torch.cuda.is_available():
        report.missing("GPU", "no CUDA device here; run the demo on a machine with an NVIDIA GPU")
        return
    dev = torch.device("cuda")
    p = model.p.detach()
    attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in ATTRS.items()}
    want = spec.reference(x.double(), p.double(), **attrs)
    xc, pc = x.to(dev), p.to(dev)

    def error(y: Any) -> float:
        return float((y.double().cpu() - want).abs().max())

    tol = 1e-4 * float(want.abs().max()) + 1e-5
    try:
        y = model.to(dev)(xc).detach()
        torch.cuda.synchronize()
        e = error(y)
        (report.ok if e <= tol else report.fail)(
            f"eager CUDA op (plugin kernel via trtkit._C): max |error| {e:.3g}"
        )
    except Exception as err:  # noqa: BLE001
        report.fail(f"eager CUDA op: {type(err).__name__}: {err}")
    finally:
        model.to("cpu")

    if trt is None or not plugins:
        report.missing(
            "TensorRT plugins", "step 4 did not create them (see above); the harness run is skipped"
        )
        return
    try:
        harness = importlib.import_module("trtkit._trt_harness")
    except ImportError as err:
        report.missing(
            "trtkit._trt_harness", f"{err}; it is built with the plugin library (TensorRT 10+ headers)"
        )
        return
    for plugin, obj in plugins.items():
        try:
            y = _harness_run(trt, harness, plugin, obj, xc, pc)
            e = error(y)
            (report.ok if e <= tol else report.fail)(
                f"{FLAVOURS[plugin]} through the harness: max |error| {e:.3g}"
            )
        except Exception as err:  # noqa: BLE001
            report.fail(f"{FLAVOURS[plugin]} through the harness: {type(err).__name__}: {err}")


def _harness_run(trt: Any, harness: Any, plugin: str, obj: Any, x: Any, p: Any) -> Any:
    """Calls the plugin the way TensorRT does: configure, (V3: serialize and recreate for runtime),
    attach to a context, workspace, enqueue on PyTorch's stream."""
    import numpy as np
    import torch

    def desc(t: Any) -> tuple[str, list[int]]:
        return (str(t.dtype).replace("torch.", ""), list(t.shape))

    def ptr(t: Any) -> tuple[int, str, list[int]]:
        return (t.data_ptr(), *desc(t))

    y = torch.full_like(x, float("nan"))
    ins, outs = [desc(x), desc(p)], [desc(y)]
    stream = torch.cuda.current_stream().cuda_stream
    if plugin == "v2":
        built = harness.PluginV2(obj)
        built.configure_plugin(ins, outs)
        runner = built.clone()
        runner.attach_to_context()
        ws = runner.get_workspace_size(ins, outs)
        workspace = torch.empty(max(ws, 1), dtype=torch.uint8, device=x.device)
        status = runner.enqueue([ptr(x), ptr(p)], [ptr(y)], workspace.data_ptr(), stream)
        runner.detach_from_context()
    else:
        built = harness.PluginV3(obj)
        if built.configure_plugin(ins, outs) != 0:
            raise RuntimeError("configurePlugin failed")
        ((name, _, data, _),) = built.get_fields_to_serialize()
        creator = trt.get_plugin_registry().get_creator(
            built.plugin_name, built.plugin_version, built.plugin_namespace
        )
        fc = trt.PluginFieldCollection(
            [trt.PluginField(name, np.frombuffer(data, np.uint8).copy(), trt.PluginFieldType.UNKNOWN)]
        )
        restored = harness.PluginV3(creator.create_plugin(built.plugin_name, fc, trt.TensorRTPhase.RUNTIME))
        runner = restored.attach_to_context()
        if runner.on_shape_change(ins, outs) != 0:
            raise RuntimeError("onShapeChange failed")
        ws = runner.get_workspace_size(ins, outs)
        workspace = torch.empty(max(ws, 1), dtype=torch.uint8, device=x.device)
        status = runner.enqueue([ptr(x), ptr(p)], [ptr(y)], workspace.data_ptr(), stream)
    torch.cuda.synchronize()
    if status != 0:
        raise RuntimeError(f"enqueue returned {status}")
    return y
