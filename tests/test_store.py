"""The disk cache of exact results: a hit returns what was computed, any change of input misses it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sympy as sp

from mlemap.catalogue import COIN_MAP, GAUSSIAN, coin_model, normal_prior, theta
from mlemap.derivations import store
from mlemap.derivations.engine import derive, model_key
from mlemap.derivations.fisher import fisher
from mlemap.reports.steps import worked_steps
from tests.conftest import cache_in

KEY = "0123456789abcdef" * 4


def test_a_cached_derivation_and_fisher_equal_the_computed_ones(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    first = derive(COIN_MAP)
    assert len(list(tmp_path.glob("derivation-*.json"))) == 1
    again = derive(COIN_MAP)
    assert again is not first and again.model is COIN_MAP
    assert again.estimate == first.estimate and again.loglik == first.loglik
    assert [s.latex for s in worked_steps(again)] == [s.latex for s in worked_steps(first)]
    assert fisher(again).expected == fisher(first).expected
    assert len(list(tmp_path.glob("fisher-*.json"))) == 1


def test_the_key_changes_with_any_symbolic_input():
    other_prior = coin_model("coin_map", COIN_MAP.title, normal_prior(theta, sp.Rational(1, 2), sp.Rational(1, 5)))
    assert model_key(other_prior) != model_key(COIN_MAP)
    renamed = coin_model("renamed", "another title", COIN_MAP.prior)
    assert model_key(renamed) == model_key(COIN_MAP)  # the name and title do not change the derivation
    assert model_key(GAUSSIAN) != model_key(COIN_MAP)


def test_the_key_holds_support_observed_data_constants_and_domains_in_any_order():
    import dataclasses

    from mlemap.catalogue import LINEAR_REGRESSION, x, y

    assert model_key(dataclasses.replace(GAUSSIAN, support={x: sp.Interval(0, sp.oo)})) != model_key(GAUSSIAN)
    assert model_key(dataclasses.replace(COIN_MAP, observed={x: (1, 1, 0)})) != model_key(COIN_MAP)
    positive = sp.Interval.open(0, sp.oo)
    forward = dataclasses.replace(LINEAR_REGRESSION, support={x: positive, y: sp.Reals})
    backward = dataclasses.replace(LINEAR_REGRESSION, support={y: sp.Reals, x: positive})
    assert model_key(forward) == model_key(backward) != model_key(LINEAR_REGRESSION)
    mu = GAUSSIAN.params[0].symbol
    assert model_key(dataclasses.replace(GAUSSIAN, constants={mu: 0})) != model_key(GAUSSIAN)
    sigma2 = GAUSSIAN.params[1].symbol
    both = dataclasses.replace(GAUSSIAN, constants={mu: 0, sigma2: 1})
    assert model_key(both) == model_key(dataclasses.replace(GAUSSIAN, constants={sigma2: 1, mu: 0}))
    assert model_key(both) != model_key(dataclasses.replace(GAUSSIAN, constants={mu: 1, sigma2: 0}))
    narrower = dataclasses.replace(GAUSSIAN.params[0], domain=sp.Interval(0, 1))
    assert model_key(dataclasses.replace(GAUSSIAN, params=(narrower, *GAUSSIAN.params[1:]))) != model_key(GAUSSIAN)


def test_the_key_holds_constraints_and_matrix_parameters():
    import dataclasses

    from tests.textbook_catalogue import categorical, gaussian_mean_covariance, p1, p2, p3

    simplex = categorical()
    assert model_key(dataclasses.replace(simplex, constraints=(sp.Eq(p1 + p2 + p3, 2),))) != model_key(simplex)
    covariance = gaussian_mean_covariance(2)
    transposed = dataclasses.replace(covariance, matrices=(covariance.matrices[0][::-1, ::-1],))
    assert model_key(transposed) != model_key(covariance)


def test_a_corrupt_cache_file_is_recomputed_and_replaced(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    derive(GAUSSIAN)
    (path,) = tmp_path.glob("derivation-*.json")
    path.write_bytes(b"not an entry")
    d = derive(GAUSSIAN)
    assert d.estimate is not None
    assert path.read_bytes().startswith(store.FORMAT)
    assert derive(GAUSSIAN).estimate == d.estimate


def test_without_a_cache_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("MLEMAP_CACHE_DIR", str(tmp_path))
    assert store.cache_dir() is None  # the tests set MLEMAP_NO_CACHE
    derive(GAUSSIAN)
    assert not list(tmp_path.iterdir())


def test_the_cache_directory_follows_the_xdg_convention(tmp_path, monkeypatch):
    monkeypatch.delenv("MLEMAP_NO_CACHE")
    monkeypatch.delenv("MLEMAP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.cache_dir() == tmp_path / "xdg" / "mlemap"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # set but empty means unset, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.cache_dir() == tmp_path / "home" / ".cache" / "mlemap"
    monkeypatch.setenv("MLEMAP_CACHE_DIR", str(tmp_path / "mine"))
    assert store.cache_dir() == tmp_path / "mine"


def test_the_cache_directory_is_made_with_its_parents_and_read_back(tmp_path, monkeypatch):
    nested = tmp_path / "a" / "b"
    cache_in(monkeypatch, nested)
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    assert sorted(p.name for p in nested.iterdir()) == [store.SECRET_NAME, f"test-{KEY}.json"]
    assert store.load_or_compute("test", KEY, lambda: 0) == 42


def test_a_cache_file_is_renamed_into_place_from_a_hidden_file_beside_it(tmp_path, monkeypatch):
    """A rename within one directory is atomic; a temporary file elsewhere may sit on another filesystem."""
    cache_in(monkeypatch, tmp_path)
    renames = []
    real_replace = os.replace

    def recording_replace(src, dst):
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", recording_replace)
    store.load_or_compute("test", KEY, lambda: 42)
    ((src, dst),) = renames
    assert src.parent == dst.parent == tmp_path
    assert src.name.startswith(f".{dst.name}.")


def unpicklable():
    return lambda: None  # a function is code, not data: the codec refuses it


def test_a_value_that_is_not_data_is_returned_and_leaves_no_file(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    value = store.load_or_compute("test", KEY, unpicklable)
    assert callable(value)
    assert [p.name for p in tmp_path.iterdir()] == [store.SECRET_NAME]


def test_a_cache_directory_that_cannot_be_made_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache_in(monkeypatch, blocker / "cache")
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    assert blocker.read_text() == ""


def entry(directory: Path) -> Path:
    (path,) = directory.glob("test-*.json")
    return path


def test_the_cache_directory_and_its_key_are_private(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path / "cache")
    store.load_or_compute("test", KEY, lambda: 42)
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "cache" / store.SECRET_NAME).stat().st_mode) == 0o600
    assert stat.S_IMODE(entry(tmp_path / "cache").stat().st_mode) == 0o600


@pytest.mark.parametrize("change", ["flip a payload bit", "replace the payload", "new secret", "truncate"])
def test_an_entry_whose_digest_does_not_check_out_is_recomputed_and_replaced(tmp_path, monkeypatch, change):
    cache_in(monkeypatch, tmp_path)
    store.load_or_compute("test", KEY, lambda: sp.Rational(3, 7))
    path = entry(tmp_path)
    raw = path.read_bytes()
    if change == "flip a payload bit":
        path.write_bytes(raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:])
    elif change == "replace the payload":  # a payload the codec would read (the number 1), under the old digest
        path.write_bytes(raw.rpartition(b"\n")[0] + b'\n{"sympy":{"int":"1"}}')
    elif change == "new secret":
        (tmp_path / store.SECRET_NAME).unlink()
    else:
        path.write_bytes(raw[: len(raw) // 2])
    assert store.load_or_compute("test", KEY, lambda: sp.Integer(5)) == 5
    assert store.load_or_compute("test", KEY, lambda: sp.Integer(0)) == 5  # the replacement is read back


def test_a_pickle_planted_in_the_cache_is_never_loaded(tmp_path, monkeypatch):
    import pickle

    cache_in(monkeypatch, tmp_path)
    store.load_or_compute("test", KEY, lambda: 1)
    marker = tmp_path / "payload-ran"
    entry(tmp_path).write_bytes(pickle.dumps(Planted(str(marker))))
    assert store.load_or_compute("test", KEY, lambda: 2) == 2
    assert not marker.exists()


class Planted:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757])
def test_a_cache_directory_others_can_write_is_not_used(tmp_path, monkeypatch, capsys, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    cache_in(monkeypatch, shared)
    store.warn.cache_clear()
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    assert list(shared.iterdir()) == []
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not private" in err and str(shared) in err


def test_an_entry_others_can_write_is_ignored_and_replaced(tmp_path, monkeypatch, capsys):
    cache_in(monkeypatch, tmp_path)
    store.load_or_compute("test", KEY, lambda: 1)
    entry(tmp_path).chmod(0o666)
    store.warn.cache_clear()
    assert store.load_or_compute("test", KEY, lambda: 2) == 2
    assert "not a private file" in capsys.readouterr().err
    assert stat.S_IMODE(entry(tmp_path).stat().st_mode) == 0o600


def test_a_symlinked_entry_is_not_followed(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path / "cache")
    store.load_or_compute("test", KEY, lambda: 1)
    elsewhere = tmp_path / "elsewhere.json"
    os.replace(entry(tmp_path / "cache"), elsewhere)
    (tmp_path / "cache" / elsewhere.name.replace("elsewhere", f"test-{KEY}")).symlink_to(elsewhere)
    assert store.load_or_compute("test", KEY, lambda: 2) == 2


def test_decoding_refuses_what_the_codec_does_not_write():
    from mlemap.derivations import codec

    for text in [
        b'{"sympy": {"node": "os.system", "args": []}}',
        b'{"dataclass": "Popen", "fields": {}}',
        b'{"sympy": {"node": "Symbol", "args": [1]}}',
        b"[" * 100000,
    ]:
        with pytest.raises(codec.DecodeError):
            codec.loads(text)


def test_a_valid_entry_copied_under_another_key_does_not_check_out(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    other = "fedcba9876543210" * 4
    store.load_or_compute("test", KEY, lambda: sp.Integer(1))
    (tmp_path / f"test-{other}.json").write_bytes(entry(tmp_path).read_bytes())
    assert store.load_or_compute("test", other, lambda: sp.Integer(2)) == 2


def test_a_fifo_planted_as_an_entry_neither_blocks_nor_loads(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    store.load_or_compute("test", KEY, lambda: 1)
    path = entry(tmp_path)
    path.unlink()
    os.mkfifo(path)  # opening it for reading without O_NONBLOCK would wait for a writer forever
    assert store.load_or_compute("test", KEY, lambda: 2) == 2


@pytest.mark.parametrize(
    ("target", "error"), [("tempfile.NamedTemporaryFile", 28), ("os.replace", 13)], ids=["no space", "rename refused"]
)
def test_an_entry_that_cannot_be_written_is_returned_and_leaves_no_file(tmp_path, monkeypatch, target, error):
    """The write fails opening the temporary file (disk full) or renaming it into place: the value is returned,
    and no file but the key is left, not even the temporary one."""
    cache_in(monkeypatch, tmp_path)

    def fails(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    module, name = target.split(".")
    monkeypatch.setattr(getattr(store, module), name, fails)
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    assert [p.name for p in tmp_path.iterdir()] == [store.SECRET_NAME]


def test_a_symlinked_cache_directory_is_not_used(tmp_path, monkeypatch, capsys):
    """A private directory behind a symlink is still refused: the link itself could be swapped."""
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    store.warn.cache_clear()
    assert store.trusted_dir(tmp_path / "link") is False
    assert str(tmp_path / "link") in capsys.readouterr().err
    assert store.trusted_dir(real) is True


def test_a_cache_directory_that_cannot_be_stat_ed_or_made_is_refused_naming_it(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store.warn.cache_clear()
    assert store.trusted_dir(blocker / "cache") is False
    assert str(blocker / "cache") in capsys.readouterr().err


@pytest.mark.parametrize(("size", "mode"), [(16, 0o600), (32, 0o640), (32, 0o604), (33, 0o600)])
def test_a_key_file_of_the_wrong_size_or_readable_by_others_is_refused(tmp_path, capsys, size, mode):
    tmp_path.chmod(0o700)
    path = tmp_path / store.SECRET_NAME
    path.write_bytes(b"k" * size)
    path.chmod(mode)
    store.warn.cache_clear()
    assert store.secret(tmp_path) is None
    assert str(path) in capsys.readouterr().err


def other_gid() -> int:
    return os.getgid() + 4242


def test_a_cache_directory_of_another_group_is_not_used(tmp_path, monkeypatch, capsys):
    """The README's promise: the directory must belong to the user and group, even where the group cannot write."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(shared, -1, other_gid())  # root gives it away; anyone else pretends to be in another group
    else:
        gid = other_gid()
        monkeypatch.setattr(store.os, "getgid", lambda: gid)
        monkeypatch.setattr(store.os, "getegid", lambda: gid)
    cache_in(monkeypatch, shared)
    store.warn.cache_clear()
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    assert list(shared.iterdir()) == []
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not private" in err and str(shared) in err and "gid" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another group")
def test_an_entry_of_another_group_is_ignored_and_replaced(tmp_path, monkeypatch, capsys):
    cache_in(monkeypatch, tmp_path)
    store.load_or_compute("test", KEY, lambda: 1)
    os.chown(entry(tmp_path), -1, other_gid())
    store.warn.cache_clear()
    assert store.load_or_compute("test", KEY, lambda: 2) == 2
    assert "not a private file" in capsys.readouterr().err
    assert entry(tmp_path).stat().st_gid == os.getgid()
    assert store.load_or_compute("test", KEY, lambda: 3) == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another group")
def test_a_key_of_another_group_is_refused(tmp_path, monkeypatch, capsys):
    cache_in(monkeypatch, tmp_path)
    store.load_or_compute("test", KEY, lambda: 1)
    os.chown(tmp_path / store.SECRET_NAME, -1, other_gid())
    store.warn.cache_clear()
    assert store.load_or_compute("test", KEY, lambda: 2) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / store.SECRET_NAME) in err and "running without a cache" in err


def test_a_key_that_is_a_directory_warns_once_and_runs_without_a_cache(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    (cache / store.SECRET_NAME).mkdir()
    cache_in(monkeypatch, cache)
    store.warn.cache_clear()
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    assert store.load_or_compute("test", KEY, lambda: 43) == 43  # nothing was cached
    err = capsys.readouterr().err.strip()
    key = cache / store.SECRET_NAME
    assert err == f"mlemap: cache key {key} is a directory; it must be a private 32-byte file; running without a cache"
    assert [p.name for p in cache.iterdir()] == [store.SECRET_NAME] and (cache / store.SECRET_NAME).is_dir()


def test_a_key_that_cannot_be_made_warns_once(tmp_path, monkeypatch, capsys):
    cache_in(monkeypatch, tmp_path)
    real_open = os.open

    def refused(path, flags, *args):
        if flags & os.O_CREAT:
            raise OSError(30, os.strerror(30), str(path))  # a read-only file system
        return real_open(path, flags, *args)

    monkeypatch.setattr(store.os, "open", refused)
    store.warn.cache_clear()
    assert store.load_or_compute("test", KEY, lambda: 42) == 42
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot be made (Read-only file system)" in err


def test_an_entry_that_is_a_directory_is_computed_and_left_alone(tmp_path, monkeypatch, capsys):
    cache_in(monkeypatch, tmp_path)
    store.load_or_compute("test", KEY, lambda: 1)
    path = entry(tmp_path)
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("mine")
    store.warn.cache_clear()
    assert store.load_or_compute("test", KEY, lambda: 2) == 2
    assert store.load_or_compute("test", KEY, lambda: 3) == 3
    err = capsys.readouterr().err.strip()
    assert err == f"mlemap: cache entry {path} is a directory; it is ignored and recomputed"
    assert (path / "inside").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([store.SECRET_NAME, path.name])  # no temporary left


def test_a_derivation_whose_entry_is_a_directory_is_derived(tmp_path, monkeypatch, capsys):
    """A build goes on: the derivation is computed, the directory left as it was."""
    cache_in(monkeypatch, tmp_path)
    first = derive(GAUSSIAN)
    (path,) = tmp_path.glob("derivation-*.json")
    path.unlink()
    path.mkdir()
    store.warn.cache_clear()
    assert derive(GAUSSIAN).estimate == first.estimate
    assert path.is_dir() and "is a directory" in capsys.readouterr().err
