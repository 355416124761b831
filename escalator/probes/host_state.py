"""System state read with the host's own tools, here or over SSH: processes, systemd units,
packages, mounts and disk space.

Called by `escalator.steps.host_state`. Each probe takes a `Run` (argv in, `Output` out), so the
same code reads this machine (`run_locally`: no shell, under the command probe's keeper, so a
tool never outlives the check) and a host over SSH (the steps pass the SSH
connection's `run`, where stdout and stderr come back together). The tools are the ones every
Linux host has: `pgrep` (procps), `systemctl`, `dpkg-query` or `rpm`, `/proc/self/mounts` and
`df -P`. A state that is not what a step wants is data (`PackageState(installed=False)`); a host
where the question cannot be asked (no systemd running, no package manager, no pgrep) gives
`unknown` with the reason, which the steps turn into an UNKNOWN scenario, not a failure.

>>> parse_mounts("/dev/vda / ext4 rw,relatime 0 0\\nsrv\\\\040a /srv\\\\040data nfs ro 0 0\\n")
[('/dev/vda', '/', 'ext4', ('rw', 'relatime')), ('srv a', '/srv data', 'nfs', ('ro',))]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from escalator.probes import command


@dataclass(frozen=True)
class Output:
    """What a command said. `exit_status` 127: the command is not there."""

    exit_status: int | None
    text: str
    error: str | None = None


Run = Callable[[list[str]], Output]


def run_locally(timeout: float) -> Run:
    """A `Run` for this machine: argv without a shell, stderr with stdout, bounded in time."""

    def run(argv: list[str]) -> Output:
        done = command.run(command.program(argv, timeout, environ=_ENVIRON, merge_stderr=True,
                                           max_output=_MAX_OUTPUT))
        if done.timed_out:
            return Output(None, "", f"`{argv[0]}` did not finish within {timeout:.1f} s")
        if done.error is not None:
            return Output(None, "", done.error)
        status = done.exit_status if done.signal is None else -done.signal
        return Output(status, done.stdout)

    return run


_ENVIRON = {"LC_ALL": "C", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
_MAX_OUTPUT = 4 << 20  # a host with thousands of mounts (containers) lists them all


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _missing(output: Output, tool: str, package: str, where: str) -> str | None:
    """Why the question cannot be asked: the command is missing or did not finish."""
    if output.error is not None:
        return output.error
    if output.exit_status == 127 or ("not found" in output.text and output.exit_status != 0 \
            and tool in output.text):
        return f"{tool} is not installed on {where} ({package})"
    return None


# ---- processes --------------------------------------------------------------------------

@dataclass(frozen=True)
class ProcessState:
    name: str
    pids: tuple[int, ...] = ()
    unknown: str | None = None


def process(run: Run, name: str, where: str) -> ProcessState:
    """Processes named `name` (the program's name, as `ps -C` and `pgrep -x` see it)."""
    if len(name) <= 15:  # the kernel keeps 15 characters of a program's name
        argv = ["pgrep", "-x", "--", name]
    else:
        argv = ["pgrep", "-f", "--", f"^(\\S*/)?{re.escape(name)}( |$)"]
    output = run(argv)
    missing = _missing(output, "pgrep", "procps", where)
    if missing is not None:
        return ProcessState(name, unknown=missing)
    if output.exit_status not in (0, 1):
        return ProcessState(name, unknown=f"pgrep failed on {where}: {_last_line(output.text)}")
    pids = tuple(int(word) for word in output.text.split() if word.isdigit())
    return ProcessState(name, pids)


# ---- systemd units ----------------------------------------------------------------------

@dataclass(frozen=True)
class UnitState:
    name: str
    load: str = ""  # loaded, not-found, masked...
    active: str = ""  # active, inactive, failed, activating...
    sub: str = ""  # running, dead, exited...
    unknown: str | None = None


def unit(run: Run, name: str, where: str) -> UnitState:
    """The unit's load, active and sub state (`systemctl show`)."""
    output = run(["systemctl", "show", "--property=LoadState,ActiveState,SubState", "--", name])
    missing = _missing(output, "systemctl", "no systemd", where)
    if missing is not None:
        return UnitState(name, unknown=missing)
    if "booted with systemd" in output.text or "Failed to connect to bus" in output.text:
        first = output.text.strip().splitlines()[0].strip()
        return UnitState(name, unknown=f"systemd is not running on {where} ({first})")
    values = dict(line.split("=", 1) for line in output.text.splitlines() if "=" in line)
    if output.exit_status != 0 or "ActiveState" not in values:
        return UnitState(name, unknown=f"cannot ask systemd on {where}: "
                                       f"{_last_line(output.text)}")
    return UnitState(name, values.get("LoadState", ""), values["ActiveState"],
                     values.get("SubState", ""))


# ---- packages ---------------------------------------------------------------------------

_PACKAGE = """\
if command -v dpkg-query >/dev/null 2>&1; then
  dpkg-query -W -f='${Status}\\t${Version}\\n' -- "$1" 2>&1; echo "escalator:dpkg:$?"
elif command -v rpm >/dev/null 2>&1; then
  rpm -q --qf '%{VERSION}-%{RELEASE}\\n' -- "$1" 2>&1; echo "escalator:rpm:$?"
else
  echo "escalator:none:127"
fi"""


@dataclass(frozen=True)
class PackageState:
    name: str
    installed: bool = False
    version: str | None = None
    manager: str = ""
    unknown: str | None = None


def package(run: Run, name: str, where: str) -> PackageState:
    """Whether the package is installed, by dpkg-query where there is one, else rpm."""
    output = run(["sh", "-c", _PACKAGE, "sh", name])
    if output.error is not None:
        return PackageState(name, unknown=output.error)
    marker = re.search(r"escalator:(\w+):(\d+)", output.text)
    if marker is None:
        return PackageState(name, unknown=f"cannot ask about packages on {where}: "
                                          f"{_last_line(output.text)}")
    manager, status = marker.group(1), int(marker.group(2))
    said = output.text[: marker.start()].strip()
    if manager == "none":
        return PackageState(name, unknown=f"no package manager on {where} (neither dpkg-query "
                                          "nor rpm)")
    if manager == "dpkg":
        state, _, version = said.partition("\t")
        installed = status == 0 and state.split()[-1:] == ["installed"]
        return PackageState(name, installed, version.strip() or None if installed else None,
                            "dpkg")
    installed = status == 0
    return PackageState(name, installed, said if installed else None, "rpm")


# ---- mounts and disk space ----------------------------------------------------------------

def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mounts(text: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(source, mount point, type, options) for each line of /proc/self/mounts."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            found.append((_unescape(fields[0]), _unescape(fields[1]), fields[2],
                          tuple(fields[3].split(","))))
    return found


@dataclass(frozen=True)
class MountState:
    path: str
    mounted: bool = False
    source: str = ""
    fstype: str = ""
    options: tuple[str, ...] = ()
    unknown: str | None = None


def mount(run: Run, path: str, where: str) -> MountState:
    """Whether `path` is a mount point, and how (the last mount on it wins, as in the kernel)."""
    output = run(["cat", "/proc/self/mounts"])
    if output.error is not None or output.exit_status != 0:
        return MountState(path, unknown=output.error or f"cannot read the mounts of {where}: "
                                                        f"{_last_line(output.text)}")
    wanted = path.rstrip("/") or "/"
    entries = [entry for entry in parse_mounts(output.text) if entry[1] == wanted]
    if not entries:
        return MountState(path)
    source, _, fstype, options = entries[-1]
    return MountState(path, True, source, fstype, options)


@dataclass(frozen=True)
class DiskState:
    """The filesystem holding `path`, in bytes as df counts them."""

    path: str
    used: int = 0
    available: int = 0  # what an unprivileged user may still write (root's reserve left out)
    mounted_on: str = ""
    error: str | None = None
    unknown: str | None = None

    @property
    def free_percent(self) -> float:
        """Available over used plus available: 100 minus df's Use% (before its rounding up).

        >>> DiskState("/", used=750, available=250).free_percent
        25.0
        """
        usable = self.used + self.available
        return 100.0 * self.available / usable if usable else 0.0


def disk(run: Run, path: str, where: str) -> DiskState:
    """Used and available space of the filesystem holding `path` (`df -P -k`)."""
    output = run(["df", "-P", "-k", "--", path])
    missing = _missing(output, "df", "coreutils", where)
    if missing is not None:
        return DiskState(path, unknown=missing)
    rows = [line.split(None, 5) for line in output.text.splitlines()[1:] if line.strip()]
    numbers = [row for row in rows if len(row) == 6 and row[2].isdigit() and row[3].isdigit()]
    if output.exit_status != 0 or not numbers:
        return DiskState(path, error=f"df cannot tell on {where}: {_last_line(output.text)}")
    _, _, used, available, _, mounted_on = numbers[-1]
    return DiskState(path, int(used) * 1024, int(available) * 1024, mounted_on)
