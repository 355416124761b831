"""Opening a private directory tree without following anything another user could plant.

`Opener` is what `escalator.storage.Tree` (the state and report directories) stands on: it opens
the root after checking it and its ancestors, then every directory below it one component at a
time from the parent's descriptor with O_NOFOLLOW, and files with O_NOFOLLOW | O_NONBLOCK,
checked with fstat. The rules are OpenSSH's for ~/.ssh; each refusal is an `UnsafeDirectory`
whose message names the path and what is wrong with it:
- the root must be ours and not writable by its group or others;
- an ancestor must belong to root or to us, and may be writable by everybody only under the
  sticky bit (/tmp): whoever can rename entries there could swap the root for another
  directory; a symlink on the way must belong to root or to us;
- below the root, no symlink at all (nothing follows a link out of the tree), directories ours
  and not writable by others, files regular (a FIFO cannot hang a run) and ours, and with no
  other hard link when they are changed in place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from escalator.errors import EscalatorError

OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40  # symlinks followed while resolving a root, as the kernel allows


class UnsafeDirectory(EscalatorError):
    """A state or report directory another user could control; str() says where and why."""


class Opener:
    """Opens `root` and what is below it; `what` names the root in reasons.

    A plain class, not a dataclass: `escalator status` reads its stored answer through it
    (escalator.laststatus) before dataclasses (and inspect, 6 ms) would be imported.
    """

    __slots__ = ("dir_mode", "file_mode", "root", "what")

    def __init__(self, root: Path, what: str, dir_mode: int, file_mode: int) -> None:
        self.root, self.what, self.dir_mode, self.file_mode = root, what, dir_mode, file_mode

    @contextlib.contextmanager
    def directory(self, directory: Path, create: bool) -> Iterator[int | None]:
        """A descriptor of `directory` (the root or below it); None if missing and not `create`."""
        below = directory.relative_to(self.root).parts
        fd = self._open_root(create)
        try:
            where = self.root
            for name in below:
                if fd is None:
                    break
                where = where / name
                parent, fd = fd, None  # _descend closes it, whatever happens
                fd = self._descend(parent, where, create)
            yield fd
        finally:
            if fd is not None:
                os.close(fd)

    def _open_root(self, create: bool) -> int | None:
        root = Path(os.path.abspath(self.root))
        real = self._resolve(root)
        self._check_ancestors(root, real)
        if create and not real.exists():
            for directory in [*reversed(real.parents), real]:
                with contextlib.suppress(FileExistsError):
                    if not directory.exists():
                        os.mkdir(directory, self.dir_mode)
        try:
            fd = os.open(real, _DIRECTORY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.unsafe(root, f"{root} {_kind_of(real)}") from exc
        try:
            self._check_dir(fd, root)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _descend(self, parent: int, where: Path, create: bool) -> int | None:
        """The descriptor of `where` (a directory), opened below `parent`, which is closed."""
        try:
            try:
                fd = os.open(where.name, _DIRECTORY, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    return None
                with contextlib.suppress(FileExistsError), naming(where):
                    os.mkdir(where.name, self.dir_mode, dir_fd=parent)
                fd = os.open(where.name, _DIRECTORY, dir_fd=parent)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                raise self.unsafe(where, f"{where} {_kind_at(parent, where.name)}") from None
        finally:
            os.close(parent)
        try:
            self._check_dir(fd, where)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def file(self, parent: int, path: Path, flags: int, in_place: bool = False) -> int:
        """`path` opened in `parent`: never through a link, never blocking on a FIFO, and only
        a regular file of ours (with no other hard link when it is changed in place)."""
        try:
            fd = os.open(path.name, flags | OPEN_FLAGS, self.file_mode, dir_fd=parent)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.ENOTDIR):
                raise self.unsafe(path, f"{path} {_kind_at(parent, path.name)}") from None
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        st = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(st.st_mode):
            problem = f"{path} {_kind(st.st_mode)}"
        elif st.st_uid != os.geteuid():
            problem = f"{path} is owned by {_user(st.st_uid)}, not by {_user(os.geteuid())}"
        elif in_place and st.st_nlink > 1:
            problem = f"{path} has {st.st_nlink} hard links (a write would reach the others)"
        if problem is not None:
            os.close(fd)
            raise self.unsafe(path, problem)
        return fd

    def read(self, path: Path) -> tuple[bytes, list[int]] | None:
        """The bytes of the file `path` below the root and its `identity`, read under the rules
        above; None when it (or its directory) does not exist."""
        with self._reading(path) as fd:
            if fd is None:
                return None
            with naming(path):
                chunks = []
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                return b"".join(chunks), identity(fd)

    def identity(self, path: Path) -> list[int] | None:
        """The `identity` of the file `path` below the root, opened under the rules above; None
        when it (or its directory) does not exist."""
        with self._reading(path) as fd:
            return None if fd is None else identity(fd)

    @contextlib.contextmanager
    def _reading(self, path: Path) -> Iterator[int | None]:
        """The file `path` below the root open for reading under the rules above, closed after;
        None when it (or its directory) does not exist."""
        with self.directory(path.parent, create=False) as parent:
            try:
                fd = None if parent is None else self.file(parent, path, os.O_RDONLY)
            except FileNotFoundError:
                fd = None
            try:
                yield fd
            finally:
                if fd is not None:
                    os.close(fd)

    def no_directory_at(self, parent: int, path: Path) -> None:
        """A rename would fail on a directory, or replace a FIFO someone planted: refuse both."""
        try:
            st = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            raise self.unsafe(path, f"{path} {_kind(st.st_mode)}")

    # ---- the checks ---------------------------------------------------------------------
    def _check_dir(self, fd: int, where: Path) -> None:
        st = os.fstat(fd)
        me = os.geteuid()
        if st.st_uid != me:
            raise self.unsafe(where, f"{where} is owned by {_user(st.st_uid)}, not by "
                                      f"{_user(me)}")
        if st.st_mode & 0o022:
            raise self.unsafe(where, f"{where} is writable by {_writers(st.st_mode)} "
                                      f"(mode {stat.S_IMODE(st.st_mode):04o})")

    def _resolve(self, path: Path) -> Path:
        """`path` with its symlinks resolved, refusing a link that another user owns."""
        me = os.geteuid()
        resolved = Path("/")
        todo = deque(path.parts[1:])
        links = 0
        while todo:
            name = todo.popleft()
            if name in ("", "."):
                continue
            if name == "..":
                resolved = resolved.parent
                continue
            candidate = resolved / name
            try:
                st = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                return candidate.joinpath(*todo)
            if not stat.S_ISLNK(st.st_mode):
                resolved = candidate
                continue
            if st.st_uid not in (0, me):
                raise self.unsafe(path, f"{candidate} is a symlink owned by {_user(st.st_uid)}")
            links += 1
            if links > _MAX_LINKS:
                raise self.unsafe(path, f"{path} has too many levels of symlinks")
            target = Path(os.readlink(candidate))
            if target.is_absolute():
                resolved = Path("/")
            todo.extendleft(reversed(target.parts[1:] if target.is_absolute() else target.parts))
        return resolved

    def _check_ancestors(self, root: Path, real: Path) -> None:
        """Whoever may rename entries in an ancestor could swap the root for another directory:
        only root and we may own one, and everybody may write one only under the sticky bit
        (/tmp). Its group may: with user-private groups (umask 002) that is the owner alone,
        and a swapped-in directory or link would still be refused as not ours."""
        me = os.geteuid()
        for ancestor in real.parents:
            try:
                st = os.stat(ancestor)
            except FileNotFoundError:
                continue  # created below, by us
            its = "its parent" if ancestor == real.parent else "its ancestor"
            if st.st_uid not in (0, me):
                raise self.unsafe(root, f"{its} {ancestor} is owned by {_user(st.st_uid)}, "
                                         "who could replace it")
            if st.st_mode & 0o002 and not st.st_mode & stat.S_ISVTX:
                raise self.unsafe(root, f"{its} {ancestor} is writable by everybody (mode "
                                         f"{stat.S_IMODE(st.st_mode):04o}), who could replace "
                                         "it")

    def unsafe(self, where: Path, problem: str) -> UnsafeDirectory:
        root = Path(os.path.abspath(self.root))
        if where == root and problem.startswith(f"{root} "):
            problem = problem[len(str(root)) + 1:]
            return UnsafeDirectory(f"{self.what} {root} {problem}: refusing to use it")
        return UnsafeDirectory(f"{self.what} {root}: {problem}: refusing to use it")


# ---- the same operations for one directory (callers that know no wider root) ------------------


def identity(fd: int) -> list[int]:
    """Which file `fd` is: inode, size and modification time. An atomic replace gives the name
    a new inode, so a record that names a file's identity tells whether it is still there."""
    found = os.fstat(fd)
    return [found.st_ino, found.st_size, found.st_mtime_ns]


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError from a descriptor (or a name relative to one) does not name the file: give
    it `path`, for a one-line reason."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None and os.path.isabs(exc.filename):
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISLNK, "is a symlink"),
             (stat.S_ISDIR, "is a directory, not a regular file"),
             (stat.S_ISFIFO, "is a FIFO, not a regular file"),
             (stat.S_ISSOCK, "is a socket, not a regular file"),
             (stat.S_ISCHR, "is a device, not a regular file"),
             (stat.S_ISBLK, "is a device, not a regular file"),
             (stat.S_ISREG, "is a file, not a directory"))
    return next((text for test, text in kinds if test(mode)), "is not a regular file")


def _kind_at(parent: int, name: str) -> str:
    try:
        return _kind(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return "cannot be opened safely"


def _kind_of(path: Path) -> str:
    try:
        return _kind(os.lstat(path).st_mode)
    except OSError:
        return "cannot be opened"


def _writers(mode: int) -> str:
    who = [name for bit, name in ((0o020, "its group"), (0o002, "others")) if mode & bit]
    return " and ".join(who)


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"
