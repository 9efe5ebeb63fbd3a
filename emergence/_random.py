"""One seed type and one way to derive random streams from it.

Every stochastic function of :mod:`emergence` takes ``seed: SeedLike`` (None, an int, a
``numpy.random.SeedSequence`` or a ``numpy.random.Generator``), normalises it once with
:func:`as_generator` and hands independent child streams to parallel parts with :func:`spawn`.
Functions that derive per-curve streams from a root (so that a curve's result does not depend on
which other curves are run) first turn the seed into a root integer with :func:`root_seed` and
then call :func:`keyed_seed`.

Examples
--------
>>> import numpy as np
>>> from emergence._random import as_generator, root_seed, spawn
>>> [round(float(g.random()), 3) for g in spawn(0, 2)]
[0.943, 0.677]
>>> root_seed(7), root_seed(np.random.SeedSequence(7))
(7, 7)
>>> root_seed(np.random.default_rng(0)) == root_seed(np.random.default_rng(0))
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["SeedLike", "as_generator", "spawn", "root_seed", "keyed_seed"]

#: What every ``seed`` argument accepts.
SeedLike = int | np.integer | np.random.Generator | np.random.SeedSequence | None

_MASK32 = 0xFFFFFFFF


def _bad(seed) -> TypeError:
    return TypeError("`seed` must be None, a non-negative int, a numpy.random.SeedSequence or a "
                     f"numpy.random.Generator; got {type(seed).__name__} {seed!r}.")


def as_generator(seed: SeedLike = None) -> np.random.Generator:
    """Normalise ``seed`` to a ``numpy.random.Generator`` (a Generator is returned as is).

    Raises
    ------
    TypeError
        Legacy ``RandomState``, floats, strings, booleans.
    ValueError
        Negative integers.
    """
    if isinstance(seed, (bool, np.bool_)) or isinstance(seed, np.random.RandomState):
        raise _bad(seed)
    if seed is not None and not isinstance(
            seed, (int, np.integer, np.random.Generator, np.random.SeedSequence)):
        raise _bad(seed)
    if isinstance(seed, (int, np.integer)) and int(seed) < 0:
        raise ValueError(f"`seed` must be a non-negative integer; got {seed!r}.")
    return np.random.default_rng(seed)


def spawn(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """``n`` independent child generators of ``seed`` (``Generator.spawn``).

    An int, a SeedSequence or None spawns from its SeedSequence; a Generator spawns from its
    own (advancing its spawn counter, not its stream), as numpy does.

    Examples
    --------
    >>> import numpy as np
    >>> a = [g.integers(100) for g in spawn(1, 3)]
    >>> b = [np.random.default_rng(s).integers(100)
    ...      for s in np.random.SeedSequence(1).spawn(3)]
    >>> a == b
    True
    """
    return as_generator(seed).spawn(int(n))


def root_seed(seed: SeedLike) -> int:
    """A non-negative integer that stands for ``seed`` (recorded on results so runs repeat).

    An int is returned as is; a SeedSequence without spawn key gives its integer entropy, any
    other SeedSequence 64 bits of its state; a Generator gives one 64-bit draw (advancing it);
    None gives 64 fresh bits from the operating system.
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        s = int(seed)
        if s < 0:
            raise ValueError(f"`seed` must be a non-negative integer; got {seed!r}.")
        return s
    if isinstance(seed, np.random.SeedSequence):
        if not seed.spawn_key and isinstance(seed.entropy, (int, np.integer)):
            return int(seed.entropy)
        return int(seed.generate_state(1, np.uint64)[0])
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    raise _bad(seed)


def keyed_seed(seed: int, key: int, *, offset: int = 0) -> np.random.SeedSequence:
    """SeedSequence of one keyed stream (e.g. one curve) under a root seed.

    The entropy is ``[(seed + offset) mod 2**32, key]`` followed by the higher 32-bit words of
    ``seed``, so seeds below ``2**32`` give exactly the streams of a 32-bit seed and larger seeds
    give other streams (never those of a smaller seed).

    Examples
    --------
    >>> keyed_seed(5, 11).entropy, keyed_seed(2**32 + 5, 11).entropy
    ([5, 11], [5, 11, 1])
    """
    s = int(seed)
    if s < 0:
        raise ValueError(f"`seed` must be a non-negative integer; got {seed!r}.")
    words = [(s + int(offset)) & _MASK32, int(key) & _MASK32]
    high = s >> 32
    while high:
        words.append(high & _MASK32)
        high >>= 32
    return np.random.SeedSequence(words)
