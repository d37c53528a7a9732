"""A verdict on a pair of architecture fingerprints: every way they differ, named.

`compare(a, b)` names each difference with a machine-readable kind and a one-line detail with real
figures; figures are signed as a − b. The fingerprints and their conventions (what counts as a
parameter, a layer, a MAC) are described in `cwcontrib.architectures.fingerprint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cwcontrib.architectures.fingerprint import COMPARED_KINDS, Fingerprint, KindStats


@dataclass(frozen=True)
class Difference:
    """One named way two architectures differ. `kind` is stable and machine-readable; `figure` is short."""

    kind: str
    detail: str
    figure: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail, "figure": self.figure}


@dataclass(frozen=True)
class PairVerdict:
    a: str
    b: str
    differences: tuple[Difference, ...]

    @property
    def equivalent(self) -> bool:
        return not self.differences

    @property
    def kinds(self) -> list[str]:
        return [d.kind for d in self.differences]

    def get(self, kind: str) -> Difference | None:
        return next((d for d in self.differences if d.kind == kind), None)

    def summary(self) -> str:
        """One line for a maintainer, e.g. 'torchvision VGG16 vs keras VGG16 differ: classifier (+100.7M params), …'."""
        if self.equivalent:
            return f"{self.a} vs {self.b}: equivalent"
        parts = [f"{d.kind} ({d.figure})" if d.figure else d.kind for d in self.differences]
        return f"{self.a} vs {self.b} differ: " + ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "equivalent": self.equivalent, "summary": self.summary(),
                "differences": [d.as_dict() for d in self.differences]}


def compare(a: Fingerprint, b: Fingerprint) -> PairVerdict:
    """Name every difference between two fingerprints; equivalent when there is none.

    Differences, in this order, each at most once: input-shape, parameter-count, classifier (dense
    layers), conv-bias, conv-parameters, conv-geometry, batchnorm-parameters, other-parameters, buffers,
    batchnorm-epsilon, batchnorm-momentum, padding, dropout, preprocessing, output-activation, layer-count, flops.
    """
    checks = (_input_shape, _parameter_count, _classifier, _conv_bias, _conv_parameters, _conv_geometry,
              _state_of("batchnorm", "batchnorm-parameters"), _other_parameters, _buffers, _epsilon, _momentum,
              _padding, _dropout, _preprocessing, _output_activation, _layer_count, _flops)
    found = tuple(d for check in checks if (d := check(a, b)) is not None)
    return PairVerdict(a.label, b.label, found)


def _input_shape(a: Fingerprint, b: Fingerprint) -> Difference | None:
    if a.input_shape == b.input_shape:
        return None
    return Difference("input-shape", f"fingerprinted at different inputs (H, W, C): {a.input_shape} vs "
                      f"{b.input_shape}; figures below are not comparable", f"{a.input_shape} vs {b.input_shape}")


def _parameter_count(a: Fingerprint, b: Fingerprint) -> Difference | None:
    delta = a.parameters - b.parameters
    if not delta:
        return None
    return Difference("parameter-count", f"{_who(a, b, delta)} has {abs(delta):,} more parameters "
                      f"({a.parameters:,} vs {b.parameters:,}, BatchNorm statistics excluded)", _signed(delta))


def _classifier(a: Fingerprint, b: Fingerprint) -> Difference | None:
    pa, pb = a.kind("dense").parameters, b.kind("dense").parameters
    if pa == pb and a.dense_shapes == b.dense_shapes:
        return None
    delta = pa - pb
    more = f"{_who(a, b, delta)} has {abs(delta):,} more parameters in dense layers" if delta else \
        "dense layers have the same parameter count but different shapes"
    return Difference("classifier", f"{more}: {a.label} {_dense_text(a)} vs {b.label} {_dense_text(b)}",
                      f"{_signed(delta)} params" if delta else "shapes")


def _dense_text(fp: Fingerprint) -> str:
    shapes = ", ".join(f"{i}×{o}" for i, o in fp.dense_shapes) or "no dense layer"
    return f"{fp.kind('dense').parameters:,} ({shapes})"


def _conv_bias(a: Fingerprint, b: Fingerprint) -> Difference | None:
    if a.conv_with_bias == b.conv_with_bias and a.conv_bias_parameters == b.conv_bias_parameters:
        return None
    delta = a.conv_bias_parameters - b.conv_bias_parameters
    na, nb = a.kind("conv2d").count, b.kind("conv2d").count
    return Difference("conv-bias", f"convolutions with a bias: {a.label} {a.conv_with_bias} of {na} "
                      f"({a.conv_bias_parameters:,} parameters), {b.label} {b.conv_with_bias} of {nb} "
                      f"({b.conv_bias_parameters:,} parameters)", f"{_signed(delta)} params")


def _conv_parameters(a: Fingerprint, b: Fingerprint) -> Difference | None:
    # Bias parameters are already named by conv-bias; this catches different kernels (channels, sizes).
    wa = a.kind("conv2d").parameters - a.conv_bias_parameters
    wb = b.kind("conv2d").parameters - b.conv_bias_parameters
    if wa == wb:
        return None
    return Difference("conv-parameters", f"convolution kernels hold {wa:,} parameters in {a.label}, {wb:,} in "
                      f"{b.label}", f"{_signed(wa - wb)} params")


def _conv_geometry(a: Fingerprint, b: Fingerprint) -> Difference | None:
    text = _histogram_delta(dict(a.conv_geometry), dict(b.conv_geometry))
    if not text:
        return None
    return Difference("conv-geometry", f"convolutions by kernel/stride differ ({a.label} vs {b.label}): {text} — "
                      "e.g. where a block downsamples (ResNet v1 strides its 1×1, v1.5 its 3×3)", text)


def _state_of(kind: str, name: str) -> Any:
    def check(a: Fingerprint, b: Fingerprint) -> Difference | None:
        delta = a.kind(kind).parameters - b.kind(kind).parameters
        if not delta:
            return None
        return Difference(name, f"{kind} layers hold {a.kind(kind).parameters:,} parameters in {a.label}, "
                          f"{b.kind(kind).parameters:,} in {b.label}", f"{_signed(delta)} params")

    return check


def _other_parameters(a: Fingerprint, b: Fingerprint) -> Difference | None:
    skip = {"dense", "conv2d", "batchnorm"}
    kinds = sorted({s.kind for s in (*a.layers, *b.layers)} - skip)
    parts = [f"{k} {a.kind(k).parameters:,} vs {b.kind(k).parameters:,}" for k in kinds
             if a.kind(k).parameters != b.kind(k).parameters]
    if not parts:
        return None
    return Difference("other-parameters", f"parameters outside conv/dense/batchnorm ({a.label} vs {b.label}): "
                      + "; ".join(parts), "; ".join(parts))


def _buffers(a: Fingerprint, b: Fingerprint) -> Difference | None:
    delta = a.buffers - b.buffers
    if not delta:
        return None
    return Difference("buffers", f"non-parameter state (BatchNorm statistics): {a.label} {a.buffers:,} values, "
                      f"{b.label} {b.buffers:,}", _signed(delta))


def _epsilon(a: Fingerprint, b: Fingerprint) -> Difference | None:
    if a.batchnorm_epsilon == b.batchnorm_epsilon:
        return None
    text = f"{_values(a.batchnorm_epsilon)} vs {_values(b.batchnorm_epsilon)}"
    return Difference("batchnorm-epsilon", f"BatchNorm epsilon {text} ({a.label} vs {b.label})", text)


def _momentum(a: Fingerprint, b: Fingerprint) -> Difference | None:
    if a.batchnorm_momentum == b.batchnorm_momentum:
        return None
    text = f"{_values(a.batchnorm_momentum)} vs {_values(b.batchnorm_momentum)}"
    return Difference("batchnorm-momentum", f"BatchNorm momentum {text} ({a.label} vs {b.label}) in PyTorch's "
                      "convention, the weight of each new batch (Keras's momentum is 1 minus this: 0.99 ↔ 0.01)",
                      text)


def _padding(a: Fingerprint, b: Fingerprint) -> Difference | None:
    text = _histogram_delta(dict(a.padding), dict(b.padding))
    if not text:
        return None
    return Difference("padding", f"convolutions/poolings by padding differ ({a.label} vs {b.label}): {text}", text)


def _dropout(a: Fingerprint, b: Fingerprint) -> Difference | None:
    da, db = a.kind("dropout"), b.kind("dropout")
    if da.count == db.count:
        return None
    return Difference("dropout", f"dropout layers: {a.label} {da.count} ({da.types_text()}), {b.label} {db.count} "
                      f"({db.types_text()})", f"{da.count} vs {db.count}")


def _preprocessing(a: Fingerprint, b: Fingerprint) -> Difference | None:
    pa, pb = a.kind("preprocessing"), b.kind("preprocessing")
    if pa.types == pb.types:
        return None

    def says(fp: Fingerprint, stats: KindStats) -> str:
        return f"{fp.label} scales/normalises its input itself ({stats.types_text()})" if stats.count else \
            f"{fp.label} takes its input as given"

    return Difference("preprocessing", f"{says(a, pa)}; {says(b, pb)}: the same pixels are different inputs",
                      f"{pa.count} vs {pb.count}")


def _output_activation(a: Fingerprint, b: Fingerprint) -> Difference | None:
    sa, sb = a.kind("softmax"), b.kind("softmax")
    if sa.count == sb.count:
        return None

    def says(fp: Fingerprint, stats: KindStats) -> str:
        return f"{fp.label} applies softmax ({stats.types_text()}) and returns probabilities" if stats.count else \
            f"{fp.label} returns logits"

    return Difference("output-activation", f"{says(a, sa)}; {says(b, sb)}",
                      f"{'softmax' if sa.count else 'logits'} vs {'softmax' if sb.count else 'logits'}")


def _layer_count(a: Fingerprint, b: Fingerprint) -> Difference | None:
    # dropout, preprocessing and softmax have their own kinds above; merges and reshapes are not compared
    # (see COMPARED_KINDS).
    kinds = [k for k in COMPARED_KINDS if k not in ("dropout", "softmax", "preprocessing")]
    differing = [k for k in kinds if a.kind(k).count != b.kind(k).count]
    if not differing:
        return None
    figure = "; ".join(f"{k} {a.kind(k).count} vs {b.kind(k).count}" for k in differing)
    detail = "; ".join(f"{k}: {a.label} {a.kind(k).count} ({a.kind(k).types_text()}) vs {b.label} "
                       f"{b.kind(k).count} ({b.kind(k).types_text()})" for k in differing)
    return Difference("layer-count", f"layer counts differ — {detail}", figure)


def _flops(a: Fingerprint, b: Fingerprint) -> Difference | None:
    if a.macs == b.macs:
        return None
    delta = a.macs - b.macs
    relative = f"{100 * delta / b.macs:+.1f}%" if b.macs else "n/a"
    shape = "×".join(str(d) for d in a.input_shape)
    return Difference("flops", f"{a.label} needs {a.macs:,} multiply-accumulates per {shape} input, {b.label} "
                      f"{b.macs:,} ({relative}; FLOPs = 2 × MACs)", f"{relative} MACs")


def _histogram_delta(a: dict[str, int], b: dict[str, int]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0))
    return ", ".join(f"{k} {a.get(k, 0)} vs {b.get(k, 0)}" for k in keys)


def _who(a: Fingerprint, b: Fingerprint, delta: int) -> str:
    return a.label if delta > 0 else b.label


def _values(values: tuple[float | None, ...]) -> str:
    if not values:
        return "none"
    return "/".join("cumulative" if v is None else f"{v:g}" for v in values)


def _signed(n: int) -> str:
    """Compact signed figure: +100.7M, -26,560."""
    sign = "+" if n > 0 else "-" if n < 0 else "±"
    size = abs(n)
    if size >= 1_000_000_000:
        return f"{sign}{size / 1e9:.1f}G"
    if size >= 1_000_000:
        return f"{sign}{size / 1e6:.1f}M"
    return f"{sign}{size:,}"
