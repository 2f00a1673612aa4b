"""The binding cannot drift from include/procreap.h (nor its defaults from
the Rust core): functions, argument counts and kinds, struct layouts and
enum values are compared both ways."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest

import procreap
from procreap import _errors, _lib, _types

REPO = Path(__file__).resolve().parents[3]
HEADER = REPO / "include" / "procreap.h"


def header_text() -> str:
    if not HEADER.is_file():
        pytest.skip(f"{HEADER} not found (not running from the repository)")
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r"^\s*#[^\n]*", " ", text, flags=re.M)


def header_functions() -> dict[str, tuple[str, list[str]]]:
    """name -> (return type, [parameter declarations]) for every procreap_ function."""
    out = {}
    pat = re.compile(r"([A-Za-z_][\w\s\*]*?)\b(procreap_\w+)\s*\(([^()]*)\)\s*;")
    for m in pat.finditer(header_text()):
        ret, name, params = m.group(1).strip(), m.group(2), m.group(3).strip()
        args = [] if params in ("", "void") else [p.strip() for p in params.split(",")]
        out[name] = (" ".join(ret.split()), [" ".join(a.split()) for a in args])
    return out


U32_ENUMS = {
    "procreap_status",
    "procreap_action_kind",
    "procreap_verdict_kind",
    "procreap_backend",
    "procreap_kind",
}


def c_kind(decl: str) -> str:
    """The kind of a C parameter or return type: ptr, u32, i32, u64, bool, double, char, void."""
    if "*" in decl:
        return "ptr"
    words = decl.replace("const", " ").replace("struct", " ").split()
    t = words[0] if words else ""
    if t in U32_ENUMS or t == "uint32_t":
        return "u32"
    return {
        "int32_t": "i32",
        "procreap_signal": "i32",
        "uint64_t": "u64",
        "size_t": f"u{8 * ctypes.sizeof(ctypes.c_size_t)}",
        "bool": "bool",
        "double": "double",
        "char": "char",
        "void": "void",
    }[t]


def py_kind(t: object) -> str:
    if t is None:
        return "void"
    if t in (ctypes.c_char_p, ctypes.c_void_p) or (
        isinstance(t, type) and issubclass(t, ctypes._Pointer)
    ):
        return "ptr"
    special = {ctypes.c_bool: "bool", ctypes.c_double: "double", ctypes.c_char: "char"}
    if t in special:
        return special[t]  # type: ignore[index]
    # An integer: c_size_t and c_uint64 are one type on LP64, so compare by
    # signedness and width.
    signed = t(-1).value < 0  # type: ignore[operator]
    return f"{'i' if signed else 'u'}{8 * ctypes.sizeof(t)}"  # type: ignore[arg-type]


def test_every_header_function_is_declared_and_nothing_else():
    header = header_functions()
    assert len(header) >= 30, header.keys()
    missing = sorted(set(header) - set(_lib.FUNCTIONS))
    extra = sorted(set(_lib.FUNCTIONS) - set(header))
    assert missing == [], f"in the header, not in the binding: {missing}"
    assert extra == [], f"in the binding, not in the header: {extra}"


def c_pointee(decl: str) -> tuple[int, str]:
    """(levels of indirection, base type) of a C pointer declaration."""
    stars = decl[: decl.rindex("*") + 1]
    base = [w for w in stars.replace("*", " ").split() if w not in ("const", "struct")]
    return stars.count("*"), base[0]


def py_pointee(t: object) -> tuple[int, str]:
    depth = 0
    while isinstance(t, type) and issubclass(t, ctypes._Pointer):
        depth += 1
        t = t._type_  # type: ignore[attr-defined]
    if t is ctypes.c_char_p:
        return depth + 1, "char"
    names = {ctypes.c_int32: "int32_t"}
    return depth, names.get(t) or t.__name__  # type: ignore[union-attr, call-overload]


@pytest.mark.parametrize("name", sorted(_lib.FUNCTIONS))
def test_arguments_and_return_match_the_header(name):
    header = header_functions()
    ret, args = header[name]
    restype, argtypes = _lib.FUNCTIONS[name]
    assert len(argtypes) == len(args), f"{name}: {args}"
    assert [py_kind(t) for t in argtypes] == [c_kind(a) for a in args], f"{name}: {args}"
    assert py_kind(restype) == c_kind(ret), f"{name} returns {ret}"
    for t, decl in [*zip(argtypes, args), (restype, ret)]:
        if "*" in decl:
            assert py_pointee(t) == c_pointee(decl), (name, decl)


def test_the_loaded_library_has_every_function_with_its_types():
    lib = _lib.lib()
    for name, (restype, argtypes) in _lib.FUNCTIONS.items():
        fn = getattr(lib, name)
        assert fn.restype is restype or fn.restype == restype, name
        assert list(fn.argtypes) == list(argtypes), name


def header_structs() -> dict[str, list[tuple[str, str]]]:
    out = {}
    for m in re.finditer(r"typedef struct (procreap_\w+) \{(.*?)\} \1;", header_text(), re.S):
        fields = []
        for decl in m.group(2).split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            fm = re.match(r"(.*?)(\w+)$", decl)
            assert fm, decl
            fields.append((fm.group(2), fm.group(1).strip()))
        out[m.group(1)] = fields
    return out


def test_struct_layouts_match_the_header():
    header = header_structs()
    assert set(header) == set(_lib.STRUCTS)
    for name, fields in header.items():
        ours = _lib.STRUCTS[name]._fields_
        assert [f[0] for f in ours] == [f[0] for f in fields], name
        for (fname, ftype), (_, decl) in zip(ours, fields):
            if decl.startswith("struct procreap_") and "*" not in decl:
                assert ftype is _lib.STRUCTS[decl.split()[1]], (name, fname)
            else:
                assert py_kind(ftype) == c_kind(decl), (name, fname, decl)
                if "*" in decl:
                    assert py_pointee(ftype) == c_pointee(decl), (name, fname, decl)


def header_enum(prefix: str) -> dict[str, int]:
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(rf"\b{prefix}(\w+) = (-?\d+)", header_text())
    }


def test_status_codes_match_the_error_classes():
    codes = header_enum("PROCREAP_STATUS_")
    assert codes.pop("OK") == 0
    assert set(codes.values()) == set(_errors.BY_CODE)
    renamed = {"IO": "IoError", "PERMISSION": "PermissionDenied"}
    for const, code in codes.items():
        want = renamed.get(const) or "".join(w.capitalize() for w in const.split("_"))
        assert _errors.BY_CODE[code].__name__ == want, const
        assert getattr(procreap, want) is _errors.BY_CODE[code]


def as_names(consts: dict[str, int]) -> list[str]:
    return [k.lower().replace("_", "-") for k, _ in sorted(consts.items(), key=lambda kv: kv[1])]


def test_action_verdict_backend_kind_and_signal_values_match_the_header():
    assert as_names(header_enum("PROCREAP_ACTION_KIND_")) == list(_types.ACTIONS)
    assert as_names(header_enum("PROCREAP_VERDICT_KIND_")) == list(_types.VERDICTS)
    assert as_names(header_enum("PROCREAP_BACKEND_")) == list(_types.BACKENDS)
    assert as_names(header_enum("PROCREAP_KIND_")) == list(_types.KINDS)
    sig = header_enum("PROCREAP_SIGNAL_")
    assert {v: (None if k == "NONE" else k) for k, v in sig.items()} == _types.SIGNALS


# --- defaults ----------------------------------------------------------------


def rust_config() -> str:
    path = REPO / "src" / "config.rs"
    if not path.is_file():
        pytest.skip("src/config.rs not found (not running from the repository)")
    return path.read_text()


def rust_list(src: str, const: str) -> list[str]:
    body = re.search(rf"{const}: &\[&str\] = &\[(.*?)\];", src, re.S)
    assert body, const
    return re.findall(r'"([^"]*)"', body.group(1))


def test_python_defaults_are_the_c_defaults():
    src = rust_config()
    default = src[src.index("impl Default for Config") :]
    default = default[: default.index("\n}\n")]

    def secs(field: str) -> float:
        m = re.search(rf"{field}: Duration::from_secs\((\d+)\)", default)
        assert m, field
        return float(m.group(1))

    cfg = procreap.Config()
    assert cfg.agent_names == rust_list(src, "DEFAULT_AGENT_NAMES")
    assert cfg.ide_markers == rust_list(src, "DEFAULT_IDE_MARKERS")
    assert cfg.min_age_secs == secs("min_age")
    assert cfg.grace_secs == secs("grace")
    assert cfg.subprocess_timeout_secs == secs("subprocess_timeout")
    assert cfg.lock_timeout_secs == secs("lock_timeout")
    assert cfg.workspace_marker == re.search(r'workspace_marker: "([^"]*)"', default).group(1)
    assert cfg.protected_pid_files == re.findall(r'PathBuf::from\("([^"]*)"\)', default)
    for flag in ("match_argv0", "all_users", "kill_tree", "dry_run"):
        assert getattr(cfg, flag) == (re.search(rf"{flag}: (true|false)", default).group(1) == "true")
    assert cfg.workspace_root is None and "workspace_root: None" in default
    assert cfg.state_dir is None and "state_dir: None" in default
    assert cfg.protected_pids == [] and cfg.tmux_sockets == []
    assert cfg.backend == "auto" and "backend: Backend::Auto" in default


def test_header_documented_defaults_agree():
    text = HEADER.read_text()
    for fn, value in [
        ("min_age_ms", 60000),
        ("grace_ms", 60000),
        ("subprocess_timeout_ms", 2000),
        ("lock_timeout_ms", 5000),
    ]:
        doc = text[: text.index(f"procreap_config_set_{fn}(")]
        doc = doc[doc.rindex("/*") :]
        assert f"default {value}" in doc, fn
    cfg = procreap.Config()
    assert cfg.min_age_secs * 1000 == 60000 and cfg.grace_secs * 1000 == 60000
    assert cfg.subprocess_timeout_secs * 1000 == 2000
    assert cfg.lock_timeout_secs * 1000 == 5000


def test_default_config_and_none_see_the_same_verdicts():
    """Config() and None (the C defaults) judge the machine alike. Read-only."""
    for _ in range(5):
        a = {(v.process.identity, v.verdict) for v in procreap.explain(None)}
        b = {(v.process.identity, v.verdict) for v in procreap.explain(procreap.Config())}
        c = {(v.process.identity, v.verdict) for v in procreap.explain(None)}
        if a == c:  # the table held still meanwhile
            assert a == b
            return
    pytest.skip("the process table kept changing")
