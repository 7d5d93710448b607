"""``trtkit.export``: ``torch.onnx.export`` for models that use the kit's ops, under either exporter.

The dynamo exporter's ``custom_translation_table`` is per call, so every kit op (and, on request, the
third-party ops the specs re-route, such as torchvision's deform_conv2d) is put into it here; the legacy
exporter's symbolics are registered once when an op registers, and read the plugin flavour ("v3"/"v2")
from a context variable this wrapper sets. Both give the same node (tests/cpu/test_export.py checks it).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import onnx

from trtkit import spec as _spec
from trtkit.onnx_schema import ONNX_DOMAIN, ONNX_DOMAIN_VERSION, kit_nodes

EXTERNAL_DATA_THRESHOLD = 1_800_000_000  # bytes of weights above which they go to a side file (2 GiB limit)
DEFAULT_OPSET = 18  # the dynamo exporter's default and a version every supported torch's legacy exporter has
BATCH_DIM = "batch"


def export(
    model: Any,
    args: Union[Any, tuple[Any, ...]],
    path: Union[str, os.PathLike[str]],
    *,
    dynamo: bool = True,
    dynamic_batch: bool = True,
    plugin: str = "v3",
    opset: Optional[int] = None,
    input_names: Optional[Sequence[str]] = None,
    output_names: Optional[Sequence[str]] = None,
    reroute_torchvision: bool = False,
    prearrange_weights: bool = True,
    verbose: bool = False,
    **kwargs: Any,
) -> onnx.ModelProto:
    """Exports ``model(*args)`` to ``path`` with the kit's ops as TensorRT plugin nodes; returns the model
    (as saved; tensors kept in external data files are not loaded into it).

    dynamo: the torch.export-based exporter (default) or the legacy TorchScript one (False). Either writes
        one self-contained file unless the weights exceed ~1.8 GB (then a side file; pass external_data=...
        to choose).
    dynamic_batch: axis 0 of every tensor input and output becomes the symbolic dim "batch".
    plugin: "v3" (IPluginV3, plugin_version "2") or "v2" (IPluginV2DynamicExt, plugin_version "1").
    input_names / output_names: default to the names of ``model.forward``'s parameters / "output[_i]".
    reroute_torchvision: export third-party ops that a kit op re-routes (torchvision.ops.deform_conv2d)
        as the kit's plugin node instead of the standard ONNX op.
    prearrange_weights: rewrite kit nodes' constant weights into the layout their plugin runs fastest with
        (DeformConv2d: GEMM rows, weight_layout=1; see :func:`prearrange`), once, in the file.
    Other keyword arguments go to ``torch.onnx.export``.
    """
    import torch

    import trtkit.ops  # noqa: F401 - registers the kit's ops

    if plugin not in _spec.PLUGIN_VERSIONS:
        raise ValueError(f"plugin must be one of {sorted(_spec.PLUGIN_VERSIONS)}, got {plugin!r}")
    args = args if isinstance(args, tuple) else (args,)
    opset = DEFAULT_OPSET if opset is None else opset
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensor_positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    input_names = list(input_names) if input_names is not None else _default_input_names(model, args)
    if output_names is None:
        output_names = _default_output_names(model, args)
    output_names = list(output_names)

    if dynamo:
        try:
            import onnxscript  # noqa: F401
        except ImportError as e:
            raise ImportError(
                f"trtkit.export(dynamo=True) needs onnxscript ({e}): pip install onnxscript, or pass "
                "dynamo=False for the legacy exporter"
            ) from e
        table = dict(kwargs.pop("custom_translation_table", None) or {})
        for s in _spec.all_specs():
            table.setdefault(s.torch_op.default, _spec.dynamo_translation(s, plugin))
            if reroute_torchvision:
                for r in s.reroutes:
                    table[r.overload()] = _spec.dynamo_reroute_translation(s, r, plugin)
        if dynamic_batch and "dynamic_shapes" not in kwargs and "dynamic_axes" not in kwargs:
            kwargs["dynamic_shapes"] = _dynamic_shapes(model, args, tensor_positions)
        # One self-contained file unless the weights cannot fit in a protobuf (the legacy exporter's rule).
        kwargs.setdefault("external_data", _weight_bytes(model) > EXTERNAL_DATA_THRESHOLD)
        with _quiet(verbose):
            torch.onnx.export(
                model,
                args,
                str(path),
                dynamo=True,
                opset_version=opset,
                input_names=input_names,
                output_names=output_names,
                custom_translation_table=table,
                verbose=verbose,
                **kwargs,
            )
    else:
        if dynamic_batch and "dynamic_axes" not in kwargs:
            names = [input_names[k] for k in range(len(tensor_positions)) if k < len(input_names)]
            kwargs["dynamic_axes"] = {n: {0: BATCH_DIM} for n in [*names, *output_names]}
        custom_opsets = dict(kwargs.pop("custom_opsets", None) or {})
        custom_opsets.setdefault(ONNX_DOMAIN, ONNX_DOMAIN_VERSION)
        with _quiet(verbose), _spec.plugin_flavour(plugin), _legacy_reroutes(reroute_torchvision):
            torch.onnx.export(
                model,
                args,
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=input_names,
                output_names=output_names,
                custom_opsets=custom_opsets,
                verbose=verbose,
                **kwargs,
            )

    # External data (models over 2 GiB) stays where the exporter put it: only the graph is rewritten.
    model_proto = onnx.load(str(path), load_external_data=False)
    changed = prearrange(model_proto) if prearrange_weights else False
    if canonicalize(model_proto) or changed:
        onnx.save(model_proto, str(path))
    return model_proto


def prearrange(model: onnx.ModelProto) -> bool:
    """Rewrites every kit node whose op spec has a ``prearrange`` step (DeformConv2d: constant weight and bias
    into GEMM rows, weight_layout=1) in place; also usable on models exported before. True if changed."""
    changed = False
    for node, s in _kit_nodes_with_specs(model):
        if s.prearrange is not None:
            changed = s.prearrange(model, node) or changed
    return changed


def _kit_nodes_with_specs(model: onnx.ModelProto) -> Iterator[tuple[onnx.NodeProto, _spec.OpSpec]]:
    """(node, op spec) of every node of the kit's domain whose op_type has a spec."""
    for node in kit_nodes(model):
        try:
            yield node, _spec.get_spec(node.op_type)
        except KeyError:
            continue


def canonicalize(model: onnx.ModelProto) -> bool:
    """Puts every kit node's attributes in spec order (the exporters differ), drops model-local functions
    of the kit's domain (TensorRT's parser would inline them instead of using the plugin). True if changed."""
    changed = False
    for node, s in _kit_nodes_with_specs(model):
        order = {name: i for i, name in enumerate([*s.attr_names, "plugin_version", "plugin_namespace"])}
        attrs = sorted(node.attribute, key=lambda a: order.get(a.name, len(order)))
        if [a.name for a in attrs] != [a.name for a in node.attribute]:
            copies = [onnx.AttributeProto() for _ in attrs]
            for c, a in zip(copies, attrs):
                c.CopyFrom(a)
            del node.attribute[:]
            node.attribute.extend(copies)
            changed = True
    local = [f for f in model.functions if f.domain == ONNX_DOMAIN]
    if local:
        keep = [f for f in model.functions if f.domain != ONNX_DOMAIN]
        del model.functions[:]
        model.functions.extend(keep)
        changed = True
    return changed


def _weight_bytes(model: Any) -> int:
    import torch

    if not isinstance(model, torch.nn.Module):
        return 0
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _forward_params(model: Any) -> list[inspect.Parameter]:
    fn = model.forward if hasattr(model, "forward") else model
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _default_input_names(model: Any, args: tuple[Any, ...]) -> list[str]:
    import torch

    params = _forward_params(model)
    names = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            names.append(params[i].name if i < len(params) else f"input_{i}")
    return names


def _default_output_names(model: Any, args: tuple[Any, ...]) -> list[str]:
    import torch

    # One eval-mode run to count the outputs (the legacy exporter runs the model in eval mode too).
    was_training = getattr(model, "training", None)
    if was_training:
        model.train(False)
    try:
        with torch.no_grad():
            out = model(*args)
    finally:
        if was_training:
            model.train(True)
    n = len(out) if isinstance(out, (tuple, list)) else 1
    return ["output"] if n == 1 else [f"output_{i}" for i in range(n)]


def _dynamic_shapes(model: Any, args: tuple[Any, ...], tensor_positions: Sequence[int]) -> tuple[Any, ...]:
    """Axis 0 of every tensor argument is one shared dim named "batch"."""
    from torch.export import Dim

    batch = Dim(BATCH_DIM, min=1)
    return tuple({0: batch} if i in tensor_positions else None for i in range(len(args)))


@contextlib.contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    """The exporters warn about their own deprecations and print progress; keep the user's output clean."""
    if verbose:
        yield
        return
    import io
    import sys

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*(legacy|TorchScript|dynamo).*")
        saved = sys.stdout
        captured = io.StringIO()
        sys.stdout = captured
        try:
            yield
        except BaseException:
            sys.stdout = saved
            sys.stderr.write(captured.getvalue())  # the exporter's progress report explains failures
            raise
        finally:
            sys.stdout = saved


@contextlib.contextmanager
def _legacy_reroutes(enabled: bool) -> Iterator[None]:
    """Registers the re-routing symbolics for this export only (the legacy registry is global)."""
    import torch

    registered: list[str] = []
    try:
        if enabled:
            for s in _spec.all_specs():
                for r in s.reroutes:
                    torch.onnx.register_custom_op_symbolic(
                        r.qualname, _spec.legacy_reroute_symbolic(s, r), _spec.LEGACY_SYMBOLIC_OPSET
                    )
                    registered.append(r.qualname)
        yield
    finally:
        for name in registered:
            torch.onnx.unregister_custom_op_symbolic(name, _spec.LEGACY_SYMBOLIC_OPSET)
