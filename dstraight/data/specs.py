"""The datasets dstraight knows: their published files, digests, mirrors and install folders.

Examples:
    >>> spec = get_spec("mnist")
    >>> spec.file("t10k-labels").filename
    't10k-labels-idx1-ubyte.gz'
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "RemoteFile",
    "DatasetSpec",
    "MNIST_SPEC",
    "FASHION_MNIST_SPEC",
    "DATASETS",
    "get_spec",
]


@dataclass(frozen=True)
class RemoteFile:
    """One published file and its digests.

    Attributes:
        key: short name such as ``'train-images'``.
        filename: the published file name, e.g. ``'train-images-idx3-ubyte.gz'``.
        md5: MD5 of the official gzip archive.
        sha256: SHA-256 of the decompressed payload, or None where none is on record (then only the
            archive's MD5 is accepted, and the decoded array is not cached).
    """

    key: str
    filename: str
    md5: str
    sha256: str | None

    @property
    def stem(self) -> str:
        """The file name without ``.gz``."""
        return self.filename.removesuffix(".gz")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, check and download one dataset.

    Attributes:
        name: folder and command-line name, e.g. ``'fashion-mnist'``.
        title: name for messages, e.g. ``'Fashion-MNIST'``.
        files: the published files.
        mirrors: base URLs (ending in ``/``) tried in turn.
        system_dirs: folders where distributions install the files.
        debian_package: the Debian/Ubuntu package that ships the files, if any.
    """

    name: str
    title: str
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    debian_package: str | None = None
    _by_key: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_key", {f.key: f for f in self.files})

    def file(self, key: str) -> RemoteFile:
        """The file called ``key`` (e.g. ``'t10k-labels'``)."""
        try:
            return self._by_key[key]
        except KeyError:
            raise ValueError(
                f"{self.title} has no file {key!r}; expected one of {sorted(self._by_key)}."
            ) from None


MNIST_SPEC = DatasetSpec(
    name="mnist",
    title="MNIST",
    files=(
        RemoteFile(
            "train-images",
            "train-images-idx3-ubyte.gz",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            None,  # no payload digest on record: only the archive's MD5 can vouch for this one
        ),
        RemoteFile(
            "train-labels",
            "train-labels-idx1-ubyte.gz",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        RemoteFile(
            "t10k-images",
            "t10k-images-idx3-ubyte.gz",
            "9fb629c4189551a2d022fa330f9573f3",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        RemoteFile(
            "t10k-labels",
            "t10k-labels-idx1-ubyte.gz",
            "ec29112dd5afa0611ce80d1b7f02629c",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
    # The mirrors torchvision and TensorFlow use; LeCun's own page no longer serves the files.
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    system_dirs=("/usr/share/datasets/mnist", "/usr/local/share/datasets/mnist"),
)

FASHION_MNIST_SPEC = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files=(
        RemoteFile(
            "train-images",
            "train-images-idx3-ubyte.gz",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        RemoteFile(
            "train-labels",
            "train-labels-idx1-ubyte.gz",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        RemoteFile(
            "t10k-images",
            "t10k-images-idx3-ubyte.gz",
            "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        RemoteFile(
            "t10k-labels",
            "t10k-labels-idx1-ubyte.gz",
            "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    ),
    # The project's S3 website serves plain HTTP only; the digests make that safe. The GitHub copy
    # in the project's repository is the HTTPS fallback.
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist", "/usr/local/share/datasets/fashion-mnist"),
    debian_package="dataset-fashion-mnist",
)

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (MNIST_SPEC, FASHION_MNIST_SPEC)}


def get_spec(dataset: str | DatasetSpec) -> DatasetSpec:
    """Look a dataset up by name (``'mnist'`` or ``'fashion-mnist'``); specs pass through.

    Examples:
        >>> get_spec("fashion-mnist").title
        'Fashion-MNIST'
    """
    if isinstance(dataset, DatasetSpec):
        return dataset
    if isinstance(dataset, str):
        key = dataset.lower().replace("_", "-")
        if key in DATASETS:
            return DATASETS[key]
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(DATASETS)}.")
