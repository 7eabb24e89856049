import numpy as np
import pytest
import torch

from reram.data import DatasetMissing, load_dataset, load_digits, load_fashion_mnist, load_mnist, read_idx, write_idx


def _fake_idx_folder(path, n_train=20, n_test=10, gz=True):
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    write_idx(path / f"train-images-idx3-ubyte{ext}", rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8))
    write_idx(path / f"train-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_train, dtype=np.uint8))
    write_idx(path / f"t10k-images-idx3-ubyte{ext}", rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8))
    write_idx(path / f"t10k-labels-idx1-ubyte{ext}", np.arange(n_test, dtype=np.uint8) % 10)


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_idx_round_trip(tmp_path, name):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, a)
    assert np.array_equal(read_idx(tmp_path / name), a)


def test_idx_rejects_garbage(tmp_path):
    (tmp_path / "bad").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(tmp_path / "bad")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_user_path(tmp_path, gz):
    _fake_idx_folder(tmp_path, gz=gz)
    d = load_mnist(tmp_path)
    assert d.x_train.shape == (20, 1, 28, 28) and d.x_test.shape == (10, 1, 28, 28)
    assert 0 <= float(d.x_train.min()) and float(d.x_train.max()) <= 1 and d.classes == 10


def test_missing_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr("reram.data.datasets.FASHION_MNIST_DIRS", (str(tmp_path / "none"),))
    monkeypatch.delenv("RERAM_FASHION_MNIST", raising=False)
    with pytest.raises(DatasetMissing, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist()
    with pytest.raises(DatasetMissing, match="RERAM_MNIST"):
        monkeypatch.delenv("RERAM_MNIST", raising=False)
        load_mnist()
    with pytest.raises(ValueError, match="allowed"):
        load_dataset("imagenet")


def test_small_real_sets():
    d = load_digits()
    assert d.x_train.shape[1:] == (1, 8, 8) and len(d.y_train) + len(d.y_test) == 1797
    m = load_dataset("mnist-subset")
    assert len(m.y_train) + len(m.y_test) == 5000 and m.x_train.shape[1:] == (1, 28, 28)


def _write_cifar(d, n_per_batch=12, seed=0):  # type: ignore[no-untyped-def]
    """Generated files in the standard CIFAR-10 python-pickle format."""
    import pickle

    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        raw = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
               b"labels": rng.integers(0, 10, n_per_batch).tolist(), b"batch_label": name.encode()}  # fmt: skip
        with open(d / name, "wb") as fh:
            pickle.dump(raw, fh)


def test_cifar10_from_pickle_batches_and_resnet20_end_to_end(tmp_path, monkeypatch):
    import reram
    from reram.data import DatasetMissing, load_cifar10, load_dataset
    from reram.nn import analog_layers, calibrate
    from reram.train import evaluate, fit
    from reram.zoo import build

    _write_cifar(tmp_path / "cifar-10-batches-py")
    d = load_cifar10(tmp_path)  # the parent folder works too
    assert d.x_train.shape == (60, 3, 32, 32) and d.x_test.shape == (12, 3, 32, 32)
    assert 0.0 <= float(d.x_train.min()) and float(d.x_train.max()) <= 1.0 and d.classes == 10
    assert torch.equal(load_dataset("cifar10", tmp_path / "cifar-10-batches-py").y_test, d.y_test)
    monkeypatch.delenv("RERAM_CIFAR10", raising=False)
    with pytest.raises(DatasetMissing, match="cifar-10-python.tar.gz"):
        load_cifar10()
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetMissing, match="data_batch_3"):
        load_cifar10(tmp_path)
    model, shape = build("resnet20")
    assert shape == (3, 32, 32) and 0.26e6 < sum(p.numel() for p in model.parameters()) < 0.28e6
    torch.manual_seed(0)
    fit(model, d.x_train, d.y_train, 1, 1e-3, 16, 0)
    model.eval()
    chip = reram.convert(model, "neurram")
    for _, m in analog_layers(chip):
        m.program(0)
    calibrate(chip, d.x_train[:32].split(16))
    acc = evaluate(chip, d.x_test, d.y_test)
    assert 0.0 <= acc <= 100.0
    assert len(analog_layers(chip)) == 22  # 19 convolutions, 2 projections, the classifier


def _damage(path, case):  # type: ignore[no-untyped-def]
    """Make one kind of damage in a good IDX folder (the cases a user's folder has been seen with)."""
    rng = np.random.default_rng(1)
    if case == "missing file":
        (path / "t10k-labels-idx1-ubyte.gz").unlink()
    elif case == "empty folder":
        for f in path.iterdir():
            f.unlink()
    elif case == "truncated gz":
        f = path / "train-images-idx3-ubyte.gz"
        f.write_bytes(f.read_bytes()[:200])
    elif case == "garbage":
        (path / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    elif case == "wrong magic":
        import gzip

        (path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04" + bytes(100)))
    elif case == "too few labels":
        write_idx(path / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 7, dtype=np.uint8))
    elif case == "label out of range":
        labels = rng.integers(0, 10, 20, dtype=np.uint8)
        labels[3] = 255
        write_idx(path / "train-labels-idx1-ubyte.gz", labels)
    elif case == "labels as images":
        write_idx(path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 10, 10, dtype=np.uint8))
    elif case == "header cut":
        import gzip

        (path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03\x00\x00"))


DAMAGE = ["missing file", "empty folder", "truncated gz", "garbage", "wrong magic", "too few labels",
          "label out of range", "labels as images", "header cut"]  # fmt: skip


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_data_folder_gets_an_error_naming_the_file_and_fault(tmp_path, case):
    from reram.data import DatasetError

    _fake_idx_folder(tmp_path)
    _damage(tmp_path, case)
    with pytest.raises((DatasetError, DatasetMissing)) as err:
        load_dataset("fashion-mnist", tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "fashion-mnist" in msg
    if case == "label out of range":
        assert "0..255" in msg and "expected 0..9" in msg
    if case == "too few labels":
        assert "7 labels" in msg and "20 images" in msg


def test_a_given_data_dir_is_used_or_the_load_stops(tmp_path):
    with pytest.raises(DatasetMissing, match="is not a folder"):
        load_fashion_mnist(tmp_path / "nope")  # never falls back to the system copy
    _fake_idx_folder(tmp_path, n_train=12, n_test=6)
    assert len(load_fashion_mnist(tmp_path).y_train) == 12
    with pytest.raises(ValueError, match="built in"):
        load_dataset("digits", tmp_path)
