"""Pretrained weights by name (``--weights DEFAULT|NAME``), the models' own input sizes and
"did you mean torchvision:NAME" — all without the network: weights come from a cache the test
writes, and a missing one must fail in one line, not download."""

from __future__ import annotations

import importlib.util
import socket

import pytest
import torch

from poolstride import zoo
from poolstride.cli import main
from poolstride.errors import PoolstrideError
from poolstride.models import build_model

HAS_TIMM = importlib.util.find_spec("timm") is not None


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, and an empty torch.hub / Hugging Face cache."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    if importlib.util.find_spec("huggingface_hub") is not None:
        import huggingface_hub.constants as hf

        monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
        monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf"))
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)


def test_torchvision_weights_load_from_the_hub_cache(offline):
    from torchvision.models import SqueezeNet1_1_Weights, squeezenet1_1

    torch.manual_seed(3)
    published = squeezenet1_1()  # stands in for the downloaded file
    url = SqueezeNet1_1_Weights.DEFAULT.url
    (offline / "checkpoints").mkdir(parents=True)
    torch.save(published.state_dict(), offline / "checkpoints" / url.rsplit("/", 1)[1])

    for weights in ("DEFAULT", "IMAGENET1K_V1", "SqueezeNet1_1_Weights.IMAGENET1K_V1"):
        model = zoo.load_model("torchvision:squeezenet1_1", weights=weights)
        assert torch.equal(model.features[0].weight, published.features[0].weight)
    # other classes: the pretrained body is kept, the classifier is new
    model = zoo.load_model("torchvision:squeezenet1_1", weights="DEFAULT", num_classes=7)
    assert torch.equal(model.features[3].squeeze.weight, published.features[3].squeeze.weight)
    assert model.classifier[1].out_channels == 7
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7)


def test_missing_weights_fail_in_one_line_without_downloading(offline, capsys):
    with pytest.raises(PoolstrideError) as err:
        zoo.load_model("torchvision:squeezenet1_1", weights="DEFAULT")
    message = str(err.value)
    assert "\n" not in message
    assert "cannot get the DEFAULT weights of torchvision:squeezenet1_1" in message
    assert "network disabled" in message
    assert not list(offline.rglob("*.pth"))
    code = main(["swap", "torchvision:squeezenet1_1", "--weights", "DEFAULT", "--variant", "max"])
    err_text = capsys.readouterr().err
    assert code == 2 and err_text.startswith("error: cannot get the DEFAULT weights")
    assert err_text.count("\n") == 1


@pytest.mark.parametrize(
    "name, weights, message",
    [
        ("torchvision:resnet18", "IMAGENET1K_V9", "unknown weights for torchvision:resnet18"),
        ("torchvision:resnet18", "ResNet50_Weights.IMAGENET1K_V1", "valid: DEFAULT, IMAGENET1K_V1"),
        ("torchvision:resnet18", " ", "weights ' ' is not valid"),
    ],
)
def test_unknown_weight_names_say_what_is_valid(name, weights, message):
    with pytest.raises(PoolstrideError, match=message):
        zoo.load_model(name, weights=weights)


@pytest.mark.skipif(not HAS_TIMM, reason="timm not installed")
def test_timm_weights_are_tags_and_fail_offline_in_one_line(offline, capsys):
    assert zoo.list_weights("timm:resnet18")[:2] == ["DEFAULT", "a1_in1k"]
    with pytest.raises(PoolstrideError, match="unknown weights for timm:resnet18 'nope'"):
        zoo.load_model("timm:resnet18", weights="nope")
    code = main(["profile", "timm:resnet18", "--weights", "a1_in1k", "--input", "3x32x32"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: cannot get the a1_in1k weights of timm:resnet18")
    assert err.count("\n") == 1


def test_weights_are_refused_for_specs_and_own_models(capsys):
    assert main(["profile", "resnet20", "--weights", "DEFAULT"]) == 2
    assert "--weights DEFAULT is for torchvision:NAME and timm:NAME" in capsys.readouterr().err


def test_native_input_shapes():
    assert zoo.native_input_shape("torchvision:inception_v3") == (3, 299, 299)
    assert zoo.native_input_shape("torchvision:resnet18") == (3, 224, 224)
    assert zoo.native_input_shape("torchvision:alexnet", "IMAGENET1K_V1") == (3, 224, 224)
    if HAS_TIMM:
        assert zoo.native_input_shape("timm:vit_base_patch16_384") == (3, 384, 384)
        assert zoo.native_input_shape("timm:resnet50", "a1_in1k") == (3, 224, 224)


@pytest.mark.skipif(not HAS_TIMM, reason="timm not installed")
def test_profile_uses_the_timm_config_input_size(capsys):
    # deit_tiny_distilled at 384 would be 3x384x384; a small model keeps the test fast
    import timm

    cfg = timm.get_pretrained_cfg("mobilenetv3_small_050")
    assert main(["profile", "timm:mobilenetv3_small_050", "--format", "json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert tuple(data["totals"]["input_shape"]) == tuple(cfg.input_size)
    assert any("pretrained_cfg input_size" in note for note in data["notes"])
    assert (
        main(["profile", "timm:mobilenetv3_small_050", "--input", "3x64x64", "--format", "json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["totals"]["input_shape"] == [3, 64, 64]


def test_bare_zoo_names_are_answered_with_their_prefixes(capsys):
    with pytest.raises(PoolstrideError, match="did you mean 'torchvision:resnet18'") as err:
        build_model("resnet18", None, (3, 32, 32), 10)
    assert "torchvision:NAME or timm:NAME" in str(err.value)
    assert "poolstride models" in str(err.value)
    with pytest.raises(PoolstrideError, match="did you mean 'resnet20'"):
        build_model("resnet21", None, (3, 32, 32), 10)
    assert main(["profile", "resnet18"]) == 2
    assert "did you mean torchvision:resnet18" in capsys.readouterr().err
    with pytest.raises(PoolstrideError, match=r"did you mean torchvision:resnet18\?"):
        zoo.load_model("torchvision:resnet81")
    if HAS_TIMM:  # a timm-only name asked of torchvision points to timm
        with pytest.raises(PoolstrideError, match=r"did you mean timm:efficientnetv2_rw_s\?"):
            zoo.load_model("torchvision:efficientnetv2_rw_s")


def test_torchvision_gflops_are_macs():
    table_macs = 1_814_073_344  # resnet18 at 3x224x224, this project's count
    assert zoo.torchvision_gflops("resnet18") == pytest.approx(table_macs / 1e9, abs=5e-4)


def test_profile_api_takes_the_trained_size_of_a_zoo_name():
    from poolstride.analysis.profile_table import profile

    table = profile("torchvision:squeezenet1_1")
    assert table.totals.input_shape == (3, 224, 224)
    if HAS_TIMM:
        import timm

        expected = tuple(timm.get_pretrained_cfg("mobilenetv3_small_050").input_size)
        assert profile("timm:mobilenetv3_small_050").totals.input_shape == expected
    with pytest.raises(PoolstrideError, match="input_shape is needed"):
        profile(torch.nn.Conv2d(3, 4, 3))
    with pytest.raises(PoolstrideError, match="input_shape is needed"):
        profile("conv3-8, gap")
    with pytest.raises(PoolstrideError, match="weights= is for a model given by name"):
        profile(torch.nn.Conv2d(3, 4, 3), (3, 8, 8), weights="DEFAULT")


def test_a_damaged_cached_file_is_one_line_naming_the_cache(offline):
    from torchvision.models import SqueezeNet1_1_Weights

    (offline / "checkpoints").mkdir(parents=True)
    name = SqueezeNet1_1_Weights.DEFAULT.url.rsplit("/", 1)[1]
    (offline / "checkpoints" / name).write_bytes(b"not a checkpoint")
    with pytest.raises(PoolstrideError) as err:
        zoo.load_model("torchvision:squeezenet1_1", weights="DEFAULT")
    assert "cannot get the DEFAULT weights of torchvision:squeezenet1_1" in str(err.value)
    assert "may be damaged" in str(err.value) and str(offline) in str(err.value)
    assert "\n" not in str(err.value)
