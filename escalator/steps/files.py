"""File phrases on this machine: cucumber-nagios's and new ones, and the judging they share.

The same phrases over SSH live in `escalator.steps.files_ssh`.

cucumber-nagios's phrases (`a file named '...' should exist`, contain, `only 'N' times`, owned
by, mode, and the directory variants) run unchanged, with their bugs fixed: the text is literal
(it was an unescaped regular expression), `only 'N' times` counts occurrences, not matching
lines, and the directory owner step looks at the directory named (it looked under an undefined
temporary directory). The new phrases say `the file "..."` and can also name a host. The probe is
`escalator.probes.files`; every phrase is a single Then step that looks and judges. The size
phrases record the file's size (perfdata `size <path>`, in bytes) with its limits, a warning
clause's too (", warning above 50 MB").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import parse
from behave import register_type, then

from escalator.limits import Limit
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import StepSetupError, expand, judge, record, stated

if TYPE_CHECKING:
    from escalator.probes import files

PROBES = ("escalator.probes.files",)
VARIABLES: tuple[str, ...] = ()

_KIND = {"file": "a file", "directory": "a directory", "other": "not a regular file"}
_UNITS = {"b": 1, "byte": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


@parse.with_pattern(r"(?:(?!' only '\d+' times?$).)+")
def _contents(text: str) -> str:
    # `a file named 'f' should contain 't'` must not also match the `only 'N' times` phrase
    return text


@parse.with_pattern(r"times?")
def _times(text: str) -> str:
    return text  # cucumber-nagios accepted "time" and "times"


register_type(Contents=_contents, Times=_times)


class Place(Protocol):
    """Where files are looked at: this machine, or a host over SSH (`files_ssh.Remote`)."""

    def look(self, path: str, names: bool = False) -> files.FileState: ...

    def search(self, path: str, text: str, first_only: bool) -> files.Found: ...


class Local:
    def look(self, path: str, names: bool = False) -> files.FileState:
        from escalator.probes.files import look

        return look(path, names)

    def search(self, path: str, text: str, first_only: bool) -> files.Found:
        from escalator.probes.files import search

        return search(path, text, first_only)


HERE = Local()


# ---- judging, shared with the phrases over SSH ------------------------------------------

def _state(place: Place, path: str, names: bool = False) -> files.FileState:
    state = place.look(path, names)
    assert state.error is None, state.error
    return state


def _is(state: files.FileState, kind: str | None) -> files.FileState:
    """`state`, after failing the step when nothing (or nothing of `kind`) is there."""
    assert state.kind is not None, f"{state.name} does not exist"
    assert kind is None or state.kind == kind, (
        f"{state.name} is {_KIND[state.kind]}, not {_KIND[kind]}")
    return state


def should_exist(place: Place, path: str, kind: str) -> files.FileState:
    """Something of `kind` ("file" or "directory") is at `path`; its state."""
    return _is(_state(place, path), kind)


def should_not_exist(place: Place, path: str, kind: str | None = None) -> None:
    """Nothing is at `path` (with `kind`: nothing of that kind)."""
    state = _state(place, path)
    if state.kind is None or (kind is not None and state.kind != kind):
        return
    raise AssertionError(f"{state.name} exists ({_KIND[state.kind]})")


def _text(text: str) -> str:
    if not text:
        raise StepSetupError("give some text to look for, not ''")
    return text


def should_contain(place: Place, path: str, text: str) -> None:
    state = should_exist(place, path, "file")
    found = place.search(path, _text(text), True)
    assert found.error is None, found.error
    assert found.count, f"{state.name} does not contain {text!r} (read {_size(found.read)})"


def should_not_contain(place: Place, path: str, text: str) -> None:
    state = should_exist(place, path, "file")
    found = place.search(path, _text(text), True)
    assert found.error is None, found.error
    assert not found.count, f"{state.name} contains {text!r} at line {found.first_line}"


def should_contain_times(place: Place, path: str, text: str, times: int) -> None:
    state = should_exist(place, path, "file")
    found = place.search(path, _text(text), False)
    assert found.error is None, found.error
    assert found.count == times, (f"{text!r} occurs {_count(found.count)} in {state.name}, "
                                  f"expected {_count(times)}")


def parse_mode(text: str) -> int:
    """Permission bits written in octal, as `chmod` takes them.

    >>> oct(parse_mode("0640")), oct(parse_mode("755")), oct(parse_mode("0o1777"))
    ('0o640', '0o755', '0o1777')
    """
    digits = text.strip().lower().removeprefix("0o")
    if not digits or len(digits) > 5 or any(c not in "01234567" for c in digits) \
            or int(digits, 8) > 0o7777:
        raise StepSetupError(f"bad mode {text!r}: write octal permission bits, e.g. '0644'")
    return int(digits, 8)


def should_have_mode(place: Place, path: str, mode: str, kind: str | None = None) -> None:
    wanted = parse_mode(mode)
    state = _is(_state(place, path), kind)
    assert state.mode == wanted, f"{state.name} has mode {state.mode:04o}, not {wanted:04o}"


def should_be_owned_by(place: Place, path: str, owner: str, kind: str | None = None) -> None:
    """`owner` is a user (name or uid), or `user:group`."""
    user, _, group = owner.strip().partition(":")
    if not user:
        raise StepSetupError(f"bad owner {owner!r}: write a user, or user:group")
    state = _is(_state(place, path, names=True), kind)
    same_user = user in (state.owner, str(state.uid))
    same_group = not group or group in (state.group, str(state.gid))
    assert same_user and same_group, (f"{state.name} is owned by {state.ownership}, "
                                      f"not {owner.strip()}")


def limit_bytes(n: float, unit: str) -> int:
    """A size limit in bytes: B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (of 1024).

    >>> limit_bytes(1.5, "KiB"), limit_bytes(2, "MB"), limit_bytes(10, "bytes")
    (1536, 2000000, 10)
    """
    factor = _UNITS.get(unit.strip().lower().removesuffix("s"))
    if factor is None:
        raise StepSetupError(f"unknown size unit {unit!r}: use B, KB, MB, GB, KiB, MiB or GiB")
    return round(n * factor)


def should_be_sized(context: Any, place: Place, path: str, n: float, unit: str,
                    at_most: bool, warning: tuple[float, str] | None = None) -> None:
    """At most (or at least) `n` `unit`; `warning` is the (number, unit) of a warning clause
    ("warning above 50 MB"), on the same side."""
    bound = Limit.at_most if at_most else Limit.at_least
    crit = bound(limit_bytes(n, unit))
    warn_unit = warning[1] if warning else "B"
    warn, scale = (bound(limit_bytes(*warning)) if warning else None), limit_bytes(1, warn_unit)
    stated(crit, warn, warn_unit, scale)
    state = should_exist(place, path, "file")
    measured = record(context, f"size {path}", state.size or 0, "B", crit, 0, warn=warn)
    judge(context, measured, f"{state.name} is {_size(state.size or 0)}", unit=warn_unit,
          scale=scale, wanted=f"{'at most' if at_most else 'at least'} {n:g} {unit}")


def _size(n: int) -> str:
    """
    >>> _size(1), _size(2048), _size(3 * 1024 * 1024 + 1)
    ('1 byte', '2048 bytes (2.0 KiB)', '3145729 bytes (3.0 MiB)')
    """
    if n < 1024:
        return "1 byte" if n == 1 else f"{n} bytes"
    scaled = f"{n / 1024:.1f} KiB" if n < 1024**2 else f"{n / 1024**2:.1f} MiB"
    return f"{n} bytes ({scaled})" if n < 1024**3 else f"{n} bytes ({n / 1024**3:.1f} GiB)"


def _count(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


# ---- cucumber-nagios's phrases ------------------------------------------------------------

@then("a file named '{path}' should exist")
def step_a_file_named_should_exist(context: Any, path: str) -> None:
    """Then a file named '/var/run/nginx.pid' should exist

    A regular file (symbolic links followed); a directory there is not a file.
    """
    should_exist(HERE, expand(context, path), "file")


@then("a file named '{path}' should not exist")
def step_a_file_named_should_not_exist(context: Any, path: str) -> None:
    """Then a file named '/etc/nologin' should not exist

    Nothing at all may be at the path (as cucumber-nagios: a directory there fails too).
    """
    should_not_exist(HERE, expand(context, path))


@then("a file named '{path}' should contain '{text:Contents}'")
def step_a_file_named_should_contain(context: Any, path: str, text: str) -> None:
    """Then a file named '/etc/resolv.conf' should contain 'nameserver'

    Literal text (cucumber-nagios read it as a regular expression).
    """
    should_contain(HERE, expand(context, path), expand(context, text))


@then("a file named '{path}' should contain '{text}' only '{times:Int}' {word:Times}")
def step_a_file_named_should_contain_only_times(context: Any, path: str, text: str,
                                                times: int, word: str) -> None:
    """Then a file named '/etc/hosts' should contain 'localhost' only '2' times

    Counts occurrences of the literal text (cucumber-nagios counted matching lines).
    """
    should_contain_times(HERE, expand(context, path), expand(context, text), times)


@then("the file named '{path}' should be owned by '{owner}'")
def step_the_file_named_should_be_owned_by(context: Any, path: str, owner: str) -> None:
    """Then the file named '/etc/shadow' should be owned by 'root'

    A user name or uid (or user:group); the reason says who owns it.
    """
    should_be_owned_by(HERE, expand(context, path), expand(context, owner))


@then("the file named '{path}' should have mode '{mode}'")
def step_the_file_named_should_have_mode(context: Any, path: str, mode: str) -> None:
    """Then the file named '/etc/shadow' should have mode '0640'

    Octal permission bits, with or without the leading 0.
    """
    should_have_mode(HERE, expand(context, path), expand(context, mode))


@then("a directory named '{path}' should exist")
def step_a_directory_named_should_exist(context: Any, path: str) -> None:
    """Then a directory named '/var/spool/backup' should exist"""
    should_exist(HERE, expand(context, path), "directory")


@then("a directory named '{path}' should not exist")
def step_a_directory_named_should_not_exist(context: Any, path: str) -> None:
    """Then a directory named '/tmp/upgrade-in-progress' should not exist

    No directory at the path (a file there does not count, as in cucumber-nagios).
    """
    should_not_exist(HERE, expand(context, path), "directory")


@then("the directory named '{path}' should be owned by '{owner}'")
def step_the_directory_named_should_be_owned_by(context: Any, path: str, owner: str) -> None:
    """Then the directory named '/var/lib/postgresql' should be owned by 'postgres'"""
    should_be_owned_by(HERE, expand(context, path), expand(context, owner), "directory")


@then("the directory named '{path}' should have mode '{mode}'")
def step_the_directory_named_should_have_mode(context: Any, path: str, mode: str) -> None:
    """Then the directory named '/tmp' should have mode '1777'"""
    should_have_mode(HERE, expand(context, path), expand(context, mode), "directory")


# ---- new phrases --------------------------------------------------------------------------

@then('the file "{path:Q}" should exist')
def step_the_file_should_exist(context: Any, path: str) -> None:
    """Then the file "/etc/nginx/nginx.conf" should exist

    A regular file on this machine (symbolic links followed).
    """
    should_exist(HERE, expand(context, path), "file")


@then('the file "{path:Q}" should not exist')
def step_the_file_should_not_exist(context: Any, path: str) -> None:
    """Then the file "/etc/nologin" should not exist

    Nothing may be at the path, of any kind.
    """
    should_not_exist(HERE, expand(context, path))


@then('the directory "{path:Q}" should exist')
def step_the_directory_should_exist(context: Any, path: str) -> None:
    """Then the directory "/var/backups" should exist"""
    should_exist(HERE, expand(context, path), "directory")


@then('the file "{path:Q}" should contain "{text:Q}"')
def step_the_file_should_contain(context: Any, path: str, text: str) -> None:
    """Then the file "/etc/resolv.conf" should contain "nameserver 10.0.0.2"

    Literal text (UTF-8), anywhere in the file, however large.
    """
    should_contain(HERE, expand(context, path), expand(context, text))


@then('the file "{path:Q}" should not contain "{text:Q}"')
def step_the_file_should_not_contain(context: Any, path: str, text: str) -> None:
    """Then the file "/etc/ssh/sshd_config" should not contain "PermitRootLogin yes"

    The reason gives the line of the first occurrence.
    """
    should_not_contain(HERE, expand(context, path), expand(context, text))


@then('the file "{path:Q}" should have mode "{mode:Q}"')
def step_the_file_should_have_mode(context: Any, path: str, mode: str) -> None:
    """Then the file "/etc/shadow" should have mode "0640"

    Octal permission bits; a directory's too.
    """
    should_have_mode(HERE, expand(context, path), expand(context, mode))


@then('the file "{path:Q}" should be owned by "{owner:Q}"')
def step_the_file_should_be_owned_by(context: Any, path: str, owner: str) -> None:
    """Then the file "/etc/shadow" should be owned by "root:shadow"

    A user (name or uid), or user:group; a directory's too.
    """
    should_be_owned_by(HERE, expand(context, path), expand(context, owner))


@then('the file "{path:Q}" should be at most {n:Number} {unit:w}')
def step_the_file_should_be_at_most(context: Any, path: str, n: float, unit: str) -> None:
    """Then the file "/var/log/app.log" should be at most 100 MB

    B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (of 1024); records the size.
    """
    should_be_sized(context, HERE, expand(context, path), n, unit, at_most=True)


@then('the file "{path:Q}" should be at most {n:Number} {unit:w}, warning above {w:Number} '
      "{wunit:w}")
def step_the_file_should_be_at_most_warning(context: Any, path: str, n: float, unit: str,
                                            w: float, wunit: str) -> None:
    """Then the file "/var/log/app.log" should be at most 100 MB, warning above 50 MB"""
    should_be_sized(context, HERE, expand(context, path), n, unit, True, (w, wunit))


@then('the file "{path:Q}" should be at least {n:Number} {unit:w}')
def step_the_file_should_be_at_least(context: Any, path: str, n: float, unit: str) -> None:
    """Then the file "/var/backups/db.dump" should be at least 1 MB"""
    should_be_sized(context, HERE, expand(context, path), n, unit, at_most=False)


@then('the file "{path:Q}" should be at least {n:Number} {unit:w}, warning below {w:Number} '
      "{wunit:w}")
def step_the_file_should_be_at_least_warning(context: Any, path: str, n: float, unit: str,
                                             w: float, wunit: str) -> None:
    """Then the file "/var/backups/db.dump" should be at least 1 MB, warning below 10 MB"""
    should_be_sized(context, HERE, expand(context, path), n, unit, False, (w, wunit))
