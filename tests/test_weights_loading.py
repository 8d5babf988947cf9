"""weights= in constructors: tags downloaded once and converted once, local files, the
errors a user meets (offline, hash, bad tag, missing torch), include_top=False and a new
classifier, preprocessing and ImageNet labels.

No test reaches the internet: the download path is served by a local http.server on
127.0.0.1 with a .safetensors file read by a small converter registered for the test;
weight sets and converters are registered with monkeypatch, so they vanish after each test.
"""

import builtins
import functools
import http.server
import os
import threading
import time

import numpy as np
import pytest

import kerascnn
from kerascnn.weights import core
from kerascnn.weights.core import StateDict, WeightsError, WeightSet, set_weights_by_role
from tests._weights import randomize_weights

MODEL = "resnet20_cifar"  # small, with convolutions, BN and a Dense classifier
CLASSIFIER = "predictions"
HUB_URL = "https://huggingface.co/timm/resnet20_cifar.test/resolve/main/model.safetensors"


def _convert(sd: StateDict, model, *, skip_classifier: bool) -> None:
    """The test's converter: tensors named ``{keras layer}.{role}``."""
    if skip_classifier:
        sd.skip(CLASSIFIER)
    for layer in model.layers:
        if not layer.weights or (skip_classifier and layer.name == CLASSIFIER):
            continue
        roles = [w.path.rsplit("/", 1)[-1] for w in layer.weights]
        set_weights_by_role(layer, **{r: sd.take(f"{layer.name}.{r}") for r in roles})


def _state_dict(model) -> dict:
    return {f"{w.path.rsplit('/', 1)[0]}.{w.path.rsplit('/', 1)[-1]}":
            np.asarray(w.numpy(), np.float32) for w in model.weights}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty Keras cache and the test's converter."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(proxy, raising=False)  # the local server is reached directly
    core.weight_sets(MODEL)  # the source modules register first; the test's entries after
    monkeypatch.setitem(core._CONVERTERS, "test:", _convert)
    return home


def _register(monkeypatch, **fields):
    ws = WeightSet(**{"tag": "cifar10", "source": "test:resnet20", "classes": 10,
                      "input_size": (32, 32, 3), "mean": (0.49, 0.48, 0.45),
                      "std": (0.25, 0.24, 0.26), "top1": 91.6, "license": "MIT", **fields})
    sets = dict(core._WEIGHT_SETS.get(MODEL, {}))
    sets[ws.tag] = ws
    monkeypatch.setitem(core._WEIGHT_SETS, MODEL, sets)
    return ws


class _Server:
    """http.server on 127.0.0.1 serving one directory, counting GET requests."""

    def __init__(self, directory):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                return super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def source():
    """A source model with random weights and BN statistics, and its .safetensors file."""
    from safetensors.numpy import save_file

    model = randomize_weights(kerascnn.create_model(MODEL, classifier_activation=None), seed=3)
    return model, _state_dict(model), save_file


@pytest.fixture
def served(tmp_path, source):
    model, tensors, save_file = source
    directory = tmp_path / "served"
    directory.mkdir()
    save_file(tensors, str(directory / "resnet20.safetensors"))
    server = _Server(directory)
    yield server, directory / "resnet20.safetensors", model
    server.close()


def _one_line(e) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text


def test_weight_sets_in_model_info(cache, monkeypatch):
    assert kerascnn.model_info("lenet5")["weights"] == {}
    ws = _register(monkeypatch, url=HUB_URL)
    info = kerascnn.model_info(MODEL)["weights"]["cifar10"]
    assert info == ws.as_dict()
    for key in ("source", "url", "sha256", "classes", "input_size", "mean", "std",
                "interpolation", "crop_pct", "top1", "license"):
        assert key in info
    assert ws.file_name == "timm--resnet20_cifar.test--model.safetensors"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/resnet20.safetensors", HUB_URL])
def test_offline_tag_fails_fast_in_one_line(cache, monkeypatch, url):
    import socket

    from kerascnn.weights import loading

    if url == HUB_URL:  # no network here, and none in the test even where there is one
        def no_network(host, timeout):
            time.sleep(0.2)
            raise OSError(f"cannot resolve {host}: no network")

        monkeypatch.setattr(loading, "_resolve_host", no_network)
    _register(monkeypatch, url=url)
    kerascnn.create_model("lenet5")  # TensorFlow's start-up is not the download's time
    start = time.monotonic()
    with pytest.raises(WeightsError) as e:
        kerascnn.create_model(MODEL, weights="cifar10")
    assert time.monotonic() - start < 10
    text = _one_line(e)
    path = os.path.join(str(cache), "models", "kerascnn",
                        core.cache_file_name(url))
    assert url in text and path in text
    assert socket.getdefaulttimeout() is None


def test_resnet18_imagenet_offline(cache, monkeypatch):
    """The issue's acceptance check, once resnet18 has its ImageNet set: offline (every name
    resolution fails, as here; simulated so that a machine online downloads nothing), the
    tag fails within 10 s with one line naming the URL and the cache path."""
    import socket

    sets = core.weight_sets("resnet18")
    if "imagenet" not in sets:
        pytest.skip("resnet18 has no ImageNet weight set yet")

    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    kerascnn.create_model("lenet5")  # TensorFlow's start-up is not the download's time
    start = time.monotonic()
    with pytest.raises(WeightsError) as e:
        kerascnn.create_model("resnet18", weights="imagenet")
    assert time.monotonic() - start < 10
    text = _one_line(e)
    assert sets["imagenet"].url in text
    assert os.path.join(str(cache), "models", "kerascnn", sets["imagenet"].file_name) in text


def test_unreachable_dns_is_abandoned_after_the_timeout(monkeypatch):
    import socket

    from kerascnn.weights import loading

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: time.sleep(30))
    start = time.monotonic()
    with pytest.raises(OSError, match="timed out"):
        loading.check_reachable("https://example.invalid/x", timeout=0.5)
    assert time.monotonic() - start < 3


def test_download_convert_cache(cache, served, monkeypatch):
    server, path, model = served
    _register(monkeypatch, url=f"{server.url}/resnet20.safetensors")
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    expected = model.predict(x, verbose=0)

    first = kerascnn.create_model(MODEL, weights="cifar10", classifier_activation=None)
    np.testing.assert_allclose(first.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    assert server.requests == ["/resnet20.safetensors"]
    downloaded = cache / "models" / "kerascnn" / "resnet20.safetensors"
    assert downloaded.exists()
    converted = list((cache / "models" / "kerascnn" / "converted").glob("*.weights.h5"))
    assert [p.name.split("-")[:3] for p in converted] == [[MODEL, "cifar10", "top"]]

    downloaded.unlink()  # the second load reads the converted file: no download, no source
    second = kerascnn.create_model(MODEL, weights="cifar10", classifier_activation=None)
    np.testing.assert_allclose(second.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    assert server.requests == ["/resnet20.safetensors"]


def test_hash_mismatch_leaves_no_file(cache, served, monkeypatch):
    server, path, _ = served
    _register(monkeypatch, url=f"{server.url}/resnet20.safetensors", sha256="0" * 64)
    with pytest.raises(WeightsError) as e:
        kerascnn.create_model(MODEL, weights="cifar10")
    text = _one_line(e)
    assert "hash" in text and server.url in text
    assert not (cache / "models" / "kerascnn" / "resnet20.safetensors").exists()
    assert not list(cache.rglob("*.weights.h5"))


def test_known_hash_passes(cache, served, monkeypatch):
    import hashlib

    server, path, _ = served
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _register(monkeypatch, url=f"{server.url}/resnet20.safetensors", sha256=digest)
    kerascnn.create_model(MODEL, weights="cifar10")
    assert (cache / "models" / "kerascnn" / "resnet20.safetensors").exists()


def test_bad_tag_lists_the_allowed_ones(cache, monkeypatch):
    _register(monkeypatch, url=HUB_URL)
    with pytest.raises(ValueError) as e:
        kerascnn.create_model(MODEL, weights="imagenet21k")
    text = _one_line(e)
    assert "'cifar10'" in text and "imagenet21k" in text
    with pytest.raises(ValueError) as e:  # a model without weight sets
        kerascnn.create_model("lenet5", weights="imagenet")
    assert "no ImageNet weights" in _one_line(e) and "no published weight sets" in str(e.value)
    with pytest.raises(ValueError) as e:
        kerascnn.create_model(MODEL, weights=42)
    _one_line(e)


def test_pth_without_torch_names_the_extra(cache, tmp_path, monkeypatch):
    _register(monkeypatch, url=HUB_URL)
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"not read")
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(WeightsError) as e:
        kerascnn.create_model(MODEL, weights=str(checkpoint))
    assert "kerascnn[convert]" in _one_line(e)


def test_local_files(cache, served, tmp_path, monkeypatch):
    server, path, model = served
    _register(monkeypatch, url=HUB_URL)
    x = np.random.default_rng(1).normal(size=(1, 32, 32, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    from_safetensors = kerascnn.create_model(MODEL, weights=str(path),
                                             classifier_activation=None)
    np.testing.assert_allclose(from_safetensors.predict(x, verbose=0), expected, rtol=1e-5,
                               atol=1e-5)
    # zipped as pytorchcv publishes its files (.pth.zip): the one checkpoint inside is read
    import zipfile

    zipped = tmp_path / "model.safetensors.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(path, "model.safetensors")
    from_zip = kerascnn.create_model(MODEL, weights=str(zipped), classifier_activation=None)
    np.testing.assert_allclose(from_zip.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.write(path, "a.safetensors")
        archive.write(path, "b.safetensors")
    with pytest.raises(ValueError, match=r"must hold exactly one checkpoint .* it holds 2\.$"):
        kerascnn.create_model(MODEL, weights=str(tmp_path / "two.zip"))
    keras_file = tmp_path / "model.weights.h5"
    model.save_weights(str(keras_file))
    from_keras = kerascnn.create_model(MODEL, weights=str(keras_file),
                                       classifier_activation=None)
    np.testing.assert_allclose(from_keras.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    assert server.requests == []


def test_without_the_classifier(cache, served, monkeypatch):
    server, path, model = served
    _register(monkeypatch, url=f"{server.url}/resnet20.safetensors")
    x = np.random.default_rng(2).normal(size=(2, 40, 40, 3)).astype("float32")
    import keras

    features = keras.Model(model.input, model.get_layer("stage3_block3_out").output)
    reference = kerascnn.create_model(MODEL, include_top=False, input_shape=(40, 40, 3))
    reference.set_weights([w.numpy() for w in features.weights])
    expected = reference.predict(x, verbose=0)

    for _attempt in range(2):  # converted, then read from the cache
        notop = kerascnn.create_model(MODEL, weights="cifar10", include_top=False,
                                      input_shape=(40, 40, 3))
        np.testing.assert_allclose(notop.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)

    heads = []
    for _attempt in range(2):
        new_head = kerascnn.create_model(MODEL, weights="cifar10", classes=7)
        for layer in new_head.layers:
            if layer.weights and layer.name != CLASSIFIER:
                for w, s in zip(layer.weights, model.get_layer(layer.name).weights):
                    np.testing.assert_array_equal(w.numpy(), s.numpy())
        heads.append(new_head.get_layer(CLASSIFIER).get_weights()[0])
        assert heads[-1].shape[-1] == 7
    assert not np.array_equal(heads[0], heads[1])  # a fresh classifier each time
    assert server.requests == ["/resnet20.safetensors"]
    names = sorted(p.name.split("-")[2] for p in cache.rglob("*.weights.h5"))
    assert names == ["newtop", "notop"]


def test_preprocessing(cache, served, tmp_path, monkeypatch):
    from kerascnn.applications import preprocess_input

    server, path, _ = served
    ws = _register(monkeypatch, url=f"{server.url}/resnet20.safetensors")
    images = np.random.default_rng(4).integers(0, 256, size=(2, 32, 32, 3)).astype("uint8")
    manual = (images / 255.0 - np.asarray(ws.mean)) / np.asarray(ws.std)
    np.testing.assert_allclose(preprocess_input(images, model=MODEL, weights="cifar10"), manual,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(preprocess_input(images, weights=ws), manual, rtol=1e-5,
                               atol=1e-5)

    plain = kerascnn.create_model(MODEL, weights="cifar10")
    wrapped = kerascnn.create_model(MODEL, weights="cifar10", include_preprocessing=True)
    expected = plain.predict(manual.astype("float32"), verbose=0)
    np.testing.assert_allclose(wrapped.predict(images, verbose=0), expected, rtol=1e-4,
                               atol=1e-5)
    assert wrapped.input.shape[1:] == (None, None, 3)  # resized to the network's 32x32
    saved = tmp_path / "wrapped.keras"
    wrapped.save(str(saved))
    import keras

    reloaded = keras.saving.load_model(str(saved))
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), expected, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("model, module", [("resnet50", "resnet"), ("xception", "xception"),
                                           ("densenet121", "densenet")])
def test_keras_twin_preprocessing_is_keras_own(model, module):
    import keras

    from kerascnn.applications import preprocess_input

    x = np.random.default_rng(5).uniform(0, 255, size=(2, 8, 8, 3)).astype("float32")
    expected = getattr(keras.applications, module).preprocess_input(x.copy())
    np.testing.assert_allclose(preprocess_input(x, model=model), expected, rtol=1e-5,
                               atol=1e-4)


def test_keras_twins_declare_keras_files():
    twins = [n for n in kerascnn.list_models() if kerascnn.model_info(n)["keras_twin"]]
    assert len(twins) == 15
    for name in twins:
        ws = kerascnn.model_info(name)["weights"]["imagenet"]
        assert ws["source"] == f"keras:{kerascnn.model_info(name)['keras_twin']}"
        assert ws["url"].startswith("https://storage.googleapis.com/tensorflow/"
                                    "keras-applications/")
        assert ws["top1"] and ws["license"]


def test_decode_predictions():
    from kerascnn.applications import decode_predictions
    from kerascnn.preprocessing import imagenet_classes

    classes = imagenet_classes()
    assert len(classes) == 1000 and classes[0] == ("n01440764", "tench")
    assert len({wnid for wnid, _ in classes}) == 1000
    preds = np.zeros((2, 1000), "float32")
    preds[0, [1, 7, 3]] = [0.5, 0.3, 0.2]
    preds[1, 999] = 1.0
    decoded = decode_predictions(preds, top=3)
    assert len(decoded) == 2 and all(len(row) == 3 for row in decoded)
    assert [c[1] for c in decoded[0]] == [classes[1][1], classes[7][1], classes[3][1]]
    assert decoded[0][0] == ("n01443537", "goldfish", 0.5)
    assert decoded[1][0][0] == classes[999][0]
    with pytest.raises(ValueError):
        decode_predictions(np.zeros((2, 10)))


def test_weights_page_table_is_current():
    from kerascnn.utils import table

    page = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "models",
                        "weights.md")
    with open(page, encoding="utf-8") as f:
        text = f.read()
    start = text.index(table.WEIGHTS_START) + len(table.WEIGHTS_START) + 1
    current = text[start:text.index(table.WEIGHTS_END)]
    assert current == table.weights_table_markdown(), (
        "docs/models/weights.md's weight-set table is stale: python -m kerascnn.utils.table "
        "--update-weights")
    rows = table.weights_table()
    assert {r["model"] for r in rows} >= {"resnet50", "vgg16", "xception", "mobilenet"}
    assert all(r["url"].startswith("https://") and r["license"] for r in rows)


def test_keras_twin_file_downloaded_once(cache, tmp_path, monkeypatch):
    """A keras twin's tag downloads keras' own file (here: a random MobileNet in keras' h5
    layout, served locally under its name), checks its md5 and converts it once."""
    import hashlib

    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from kerascnn.weights import keras_twins

    name = "mobilenet_1_0_224_tf_no_top.h5"
    directory = tmp_path / "keras_storage"
    directory.mkdir()
    twin = randomize_weights(keras.applications.MobileNet(weights=None, include_top=False,
                                                          input_shape=(32, 32, 3)), seed=7)
    with h5py.File(directory / name, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, twin)
    md5 = hashlib.md5((directory / name).read_bytes()).hexdigest()
    server = _Server(directory)
    try:
        monkeypatch.setitem(keras_twins.KERAS_FILES, name, (f"{server.url}/{name}", md5))
        x = np.random.default_rng(8).normal(size=(1, 32, 32, 3)).astype("float32")
        expected = twin.predict(x, verbose=0)
        for _attempt in range(2):
            ours = kerascnn.create_model("mobilenet", weights="imagenet", include_top=False,
                                         input_shape=(32, 32, 3))
            np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5,
                                       atol=1e-5)
        assert server.requests == [f"/{name}"]
        assert (cache / "models" / name).exists()  # where keras.applications keeps it
        monkeypatch.setitem(keras_twins.KERAS_FILES, name, (f"{server.url}/{name}", "0" * 32))
        (cache / "models" / name).unlink()
        for p in cache.rglob("*.weights.h5"):
            p.unlink()
        with pytest.raises(WeightsError) as e:
            kerascnn.create_model("mobilenet", weights="imagenet", include_top=False,
                                  input_shape=(32, 32, 3))
        assert "hash" in _one_line(e)
        assert not (cache / "models" / name).exists()
    finally:
        server.close()


# -- hostile checkpoints ------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["nan", "int32"])
def test_non_finite_and_non_float_tensors_are_refused(damage, cache, source, tmp_path,
                                                      monkeypatch):
    _, tensors, save_file = source
    _register(monkeypatch, url=HUB_URL)
    key = next(k for k in tensors if k.endswith(".kernel"))
    damaged = dict(tensors)
    if damage == "nan":
        damaged[key] = tensors[key].copy()
        damaged[key].flat[[0, 5, 7]] = [np.nan, np.inf, -np.inf]
        message = (f"model.safetensors: tensor '{key}' holds 3 NaN or infinite values (of "
                   f"{tensors[key].size}): a damaged checkpoint.")
    else:
        damaged[key] = tensors[key].astype(np.int32)
        message = f"model.safetensors: tensor '{key}' is int32, a float weight is expected."
    save_file(damaged, str(tmp_path / "model.safetensors"))
    with pytest.raises(WeightsError) as e:
        kerascnn.create_model(MODEL, weights=str(tmp_path / "model.safetensors"))
    assert _one_line(e) == message


def test_integer_buffers_are_not_weights():
    """torch's BatchNorm counter (int64) is left out; a float tensor taken as it is."""
    sd = StateDict({"bn.weight": np.ones(3, np.float32),
                    "bn.num_batches_tracked": np.array(7, np.int64)}, origin="x.pth")
    np.testing.assert_array_equal(sd.take("bn.weight"), np.ones(3))
    sd.check_all_used()


def _zip(path, member, data=None, zeros=0):
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open(member, "w", force_zip64=True) as f:
            if data is not None:
                f.write(data)
            chunk = bytes(1 << 24)
            for _ in range(zeros // len(chunk)):
                f.write(chunk)
    return path


def test_zip_members_are_checked_before_extracting(cache, tmp_path, monkeypatch):
    import re
    import shutil
    import tempfile

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted")

    monkeypatch.setattr(shutil, "copyfileobj", no_extraction)
    bomb = _zip(tmp_path / "bomb.pth.zip", "model.pth", zeros=1 << 30)
    with pytest.raises(WeightsError) as e:
        core.read_state_dict(bomb)
    assert re.fullmatch(
        rf"{re.escape(str(bomb))}: its member 'model\.pth' would expand from \d+ to "
        rf"{1 << 30} bytes \(\d+ times\), more than a checkpoint compresses: a damaged or "
        r"hostile zip \(unzip it yourself if you trust it\)\.", _one_line(e))
    assert list(temp.iterdir()) == []


def test_zip_extraction_names_the_temporary_folder(source, tmp_path, monkeypatch):
    import collections
    import shutil
    import tempfile

    _, tensors, save_file = source
    save_file(tensors, str(tmp_path / "model.safetensors"))
    zipped = _zip(tmp_path / "model.safetensors.zip", "model.safetensors",
                  data=(tmp_path / "model.safetensors").read_bytes())
    size = (tmp_path / "model.safetensors").stat().st_size
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    usage = collections.namedtuple("usage", "total used free")
    with monkeypatch.context() as m:
        m.setattr(shutil, "disk_usage", lambda path: usage(10 ** 6, 10 ** 6 - 1000, 1000))
        with pytest.raises(WeightsError) as e:
            core.read_state_dict(zipped)
    assert _one_line(e) == (f"{zipped}: extracting 'model.safetensors' needs {size} bytes in "
                            f"the temporary folder {temp}, which has 1000 free; set TMPDIR to "
                            "a folder with room.")

    def full_disk(src, dst, *args):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(shutil, "copyfileobj", full_disk)
        with pytest.raises(WeightsError) as e:
            core.read_state_dict(zipped)
    assert _one_line(e) == (f"{zipped}: cannot extract 'model.safetensors' into the temporary "
                            f"folder {temp}: No space left on device; set TMPDIR to a folder "
                            "with room.")
    assert list(temp.iterdir()) == []
    assert len(core.read_state_dict(zipped)) == len(tensors)
