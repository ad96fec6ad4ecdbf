"""bam.data: CIFAR read from its own on-disk format, the Shapes set, the tensor-resident loader."""

import hashlib
import pickle
import tarfile
import urllib.error

import pytest
import torch
from torchvision import datasets

import bam.data
from bam.data import ImageSet, Loader, crop_flip, make_shapes, random_crop_flip
from bam.data import cifar as cifar_module
from bam.data import shapes as shapes_module

# ----------------------------------------------------------------------------- CIFAR
# A tiny archive in CIFAR's own format: the pickled batch files torchvision reads, a few images
# each. torchvision checks every file against a fixed table of MD5 sums of the real 170 MB
# archive; the fixture points that table at the MD5 sums of the tiny files (monkeypatch, undone
# after each test). So the real checking, reading and conversion code runs; only the expected
# sums are ours.
LAYOUT = {
    "cifar10": {
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "label_key": "labels",
        "names_key": "label_names",
        "classes": 10,
    },
    "cifar100": {
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "label_key": "fine_labels",
        "names_key": "fine_label_names",
        "classes": 100,
    },
}
PER_FILE = 3


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_tiny_cifar(root, name, monkeypatch):
    """Write a tiny archive of ``name`` under ``root``; return {split: (images, labels)}."""
    layout, source = LAYOUT[name], cifar_module.source(name)
    folder = root / source.base_folder
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    written = {}
    for split in ("train", "test"):
        images, labels, table = [], [], []
        for filename in layout[split]:
            batch = torch.randint(0, 256, (PER_FILE, 3, 32, 32), dtype=torch.uint8, generator=g)
            batch_labels = torch.randint(0, layout["classes"], (PER_FILE,), generator=g)
            entry = {
                "data": batch.reshape(PER_FILE, -1).numpy(),  # rows of R, then G, then B planes
                layout["label_key"]: batch_labels.tolist(),
                "filenames": [f"img{i}.png" for i in range(PER_FILE)],
            }
            (folder / filename).write_bytes(pickle.dumps(entry))
            table.append([filename, md5(folder / filename)])
            images.append(batch)
            labels.append(batch_labels)
        monkeypatch.setattr(source, f"{split}_list", table)
        written[split] = (torch.cat(images), torch.cat(labels))
    names = [f"class{i}" for i in range(layout["classes"])]
    (folder / layout["meta"]).write_bytes(pickle.dumps({layout["names_key"]: names}))
    meta = {
        "filename": layout["meta"],
        "key": layout["names_key"],
        "md5": md5(folder / layout["meta"]),
    }
    monkeypatch.setattr(source, "meta", meta)
    return written


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(datasets.utils, "download_and_extract_archive", refuse)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar_is_read_from_its_own_format(tmp_path, monkeypatch, no_network, name, split):
    written = write_tiny_cifar(tmp_path, name, monkeypatch)
    data = bam.data.load_cifar(name, split, root=tmp_path)
    images, labels = written[split]
    assert torch.equal(data.images, images)  # (N, 3, 32, 32), channel planes in order
    assert torch.equal(data.labels, labels)
    assert data.num_classes == LAYOUT[name]["classes"] and data.classes[1] == "class1"
    assert data.name == f"{name}-{split}"


def test_a_damaged_cifar_file_is_named_in_the_error(tmp_path, monkeypatch, no_network):
    write_tiny_cifar(tmp_path, "cifar10", monkeypatch)
    damaged = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    with pytest.raises(RuntimeError, match="data_batch_3") as error:
        bam.data.load_cifar("cifar10", root=tmp_path)
    assert "shapes" in str(error.value)


def test_missing_cifar_says_which_archive_to_put_where(tmp_path, no_network):
    with pytest.raises(RuntimeError) as error:
        bam.data.load("cifar100", root=tmp_path)
    message = str(error.value)
    assert "cifar-100-python.tar.gz" in message and str(tmp_path) in message
    assert "download=True" in message and "--dataset shapes" in message


def test_an_archive_put_in_the_data_folder_is_unpacked_without_network(
    tmp_path, monkeypatch, no_network
):
    written = write_tiny_cifar(tmp_path / "staging", "cifar10", monkeypatch)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "staging" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", md5(archive))
    data = bam.data.load_cifar("cifar10", "test", root=tmp_path)
    assert torch.equal(data.images, written["test"][0])


def test_a_damaged_archive_is_reported_not_unpacked(tmp_path, no_network):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(RuntimeError, match="cifar-10-python.tar.gz is damaged"):
        bam.data.load_cifar("cifar10", root=tmp_path)


def test_a_failed_download_offers_the_offline_alternative(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(datasets.utils, "download_and_extract_archive", offline)
    with pytest.raises(RuntimeError, match="could not download") as error:
        bam.data.load_cifar("cifar10", root=tmp_path, download=True)
    assert "--dataset shapes" in str(error.value)


def test_data_root_follows_bam_data(tmp_path, monkeypatch):
    monkeypatch.setenv("BAM_DATA", str(tmp_path))
    assert bam.data.data_root() == tmp_path
    monkeypatch.delenv("BAM_DATA")
    assert bam.data.data_root().name == "data"


def test_unknown_names_and_splits_are_refused():
    with pytest.raises(ValueError, match="choose one of"):
        bam.data.load("mnist")
    with pytest.raises(ValueError, match="split"):
        bam.data.load("shapes", "validation")


# ----------------------------------------------------------------------------- Shapes
@pytest.fixture(scope="module")
def small_shapes():
    return make_shapes("train", size=500, seed=0)


def test_shapes_gives_uint8_images_labels_and_masks(small_shapes):
    image, label, mask = (
        t[0] for t in (small_shapes.images, small_shapes.labels, small_shapes.masks)
    )
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8
    assert mask.shape == (1, 32, 32) and mask.dtype == torch.bool
    assert 0 <= int(label) < 10 and small_shapes.num_classes == 10
    assert torch.bincount(small_shapes.labels).tolist() == [50] * 10  # balanced


def test_shapes_is_deterministic_per_seed_and_split(small_shapes):
    again = make_shapes("train", size=500, seed=0)
    assert torch.equal(again.images, small_shapes.images)
    assert torch.equal(again.masks, small_shapes.masks)
    assert not torch.equal(make_shapes("train", size=500, seed=1).images, small_shapes.images)
    assert not torch.equal(make_shapes("test", size=500, seed=0).images, small_shapes.images)


def test_every_shapes_image_has_one_visible_object(small_shapes):
    area = small_shapes.masks.flatten(1).float().sum(1)
    assert area.min() >= 15  # at least ~4x4 pixels: the smallest object is 10 px across
    assert area.max() <= 0.5 * 32 * 32
    # The object is painted over the clutter: its pixels have the object's single colour.
    images, masks = small_shapes.images.float(), small_shapes.masks
    inside = (images * masks).sum((2, 3)) / masks.sum((2, 3))
    spread = ((images - inside[..., None, None]).abs() * masks).sum((2, 3)) / masks.sum((2, 3))
    assert spread.mean() < 20  # anti-aliased edges only; the background varies far more


def test_a_share_of_the_objects_is_bitten_and_the_masks_show_what_is_left(
    small_shapes, monkeypatch
):
    share = shapes_module.BITTEN
    monkeypatch.setattr(shapes_module, "BITTEN", 0.0)
    whole = make_shapes("train", size=500, seed=0)  # the same draws, no bites applied
    assert torch.equal(whole.labels, small_shapes.labels)
    assert not (small_shapes.masks & ~whole.masks).any()  # a bite only removes pixels
    bitten = (whole.masks != small_shapes.masks).flatten(1).any(1).float().mean()
    assert abs(bitten - share) < 0.06  # about the stated share of images
    # Where the object lost a pixel, the image shows what lies behind it, not the object.
    lost = whole.masks & ~small_shapes.masks
    assert not torch.equal(
        whole.images.masked_select(lost), small_shapes.images.masked_select(lost)
    )


def test_shapes_normalisation_constants_match_the_data():
    # The constants are those of the whole default training split (seed 0, 10,000 images);
    # a smaller sample differs by more than a rounding error, each image having its own colours.
    images = make_shapes("train").images.float() / 255
    mean = images.mean((0, 2, 3))
    std = images.transpose(0, 1).reshape(3, -1).std(1)
    assert torch.allclose(mean, torch.tensor(shapes_module.MEAN), atol=1e-3)
    assert torch.allclose(std, torch.tensor(shapes_module.STD), atol=1e-3)


def test_imageset_rejects_mismatched_inputs():
    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(images.float(), torch.zeros(4), ("a",), (0,) * 3, (1,) * 3, "x")
    with pytest.raises(ValueError, match="labels must have shape"):
        ImageSet(images, torch.zeros(5), ("a",), (0,) * 3, (1,) * 3, "x")


# ----------------------------------------------------------------------------- loader
def test_a_flip_is_a_flip():
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    flip = torch.tensor([True, False, True, True, False, False])
    centre = torch.full((6,), 4)
    out = crop_flip(images, centre, centre, flip, padding=4)
    assert torch.equal(out[flip], torch.flip(images[flip], dims=[-1]))
    assert torch.equal(out[~flip], images[~flip])


def test_a_crop_is_a_shifted_window_of_the_padded_image():
    images = torch.randint(1, 256, (8, 3, 32, 32), dtype=torch.uint8)
    top, left = torch.randint(0, 9, (2, 8))
    flip = torch.rand(8) < 0.5
    out = crop_flip(images, top, left, flip, padding=4)
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    for i in range(8):
        window = padded[i, :, top[i] : top[i] + 32, left[i] : left[i] + 32]
        assert torch.equal(out[i], window.flip(-1) if flip[i] else window)


def test_random_crop_flip_repeats_with_the_same_seed():
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    a = random_crop_flip(images, torch.Generator().manual_seed(3))
    b = random_crop_flip(images, torch.Generator().manual_seed(3))
    c = random_crop_flip(images, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_training_batches_repeat_with_the_same_seed(small_shapes):
    def batches(seed):
        return list(Loader(small_shapes, 64, train=True, seed=seed))

    first, again, other = batches(0), batches(0), batches(1)
    assert all(
        torch.equal(x1, x2) and torch.equal(y1, y2)
        for (x1, y1), (x2, y2) in zip(first, again, strict=True)
    )
    assert not torch.equal(first[0][0], other[0][0])


def test_a_training_epoch_is_a_shuffled_pass_without_the_incomplete_batch(small_shapes):
    loader = Loader(small_shapes, 64, train=True, padding=0, flip=False)
    labels = torch.cat([y for _, y in loader])
    assert len(loader) == 500 // 64 and len(labels) == 7 * 64
    assert not torch.equal(labels, small_shapes.labels[: len(labels)])
    # Without augmentation a batch is exactly the normalised images it indexed.
    x, _ = next(iter(Loader(small_shapes, 500, train=True, padding=0, flip=False, seed=5)))
    order = torch.randperm(500, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(x, small_shapes.normalize(small_shapes.images[order]))


def test_test_batches_are_every_image_in_order_normalised(small_shapes):
    loader = Loader(small_shapes, 128)
    x = torch.cat([x for x, _ in loader])
    assert len(loader) == 4 and len(x) == 500
    mean = torch.tensor(small_shapes.mean).view(1, 3, 1, 1)
    std = torch.tensor(small_shapes.std).view(1, 3, 1, 1)
    assert torch.allclose((x * std + mean) * 255, small_shapes.images.float(), atol=1e-3)


def test_channels_last_batches_hold_the_same_values(small_shapes):
    x, _ = next(iter(Loader(small_shapes, 32, channels_last=True)))
    y, _ = next(iter(Loader(small_shapes, 32)))
    assert x.is_contiguous(memory_format=torch.channels_last) and torch.equal(x, y)


def test_the_one_normalisation_is_x_over_255_minus_mean_over_std(small_shapes):
    from bam.data.dataset import pixel_affine

    offset, scale = pixel_affine(small_shapes.mean, small_shapes.std, "cpu")
    x = small_shapes.images[:4]
    mean = torch.tensor(small_shapes.mean).view(-1, 1, 1)
    std = torch.tensor(small_shapes.std).view(-1, 1, 1)
    expected = (x.float() / 255 - mean) / std
    assert torch.allclose((x.float() - offset) * scale, expected, atol=1e-5)
    assert torch.equal(small_shapes.normalize(x), (x.float() - offset) * scale)
