"""The binding cannot drift from include/procreap.h: functions, argument
counts and kinds, struct layouts, enum values and the config knobs are
compared both ways. Defaults are not compared: the binding has none of its
own (they are read from the library)."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest

import procreap
from procreap import _config, _enums, _errors, _lib

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
    "procreap_delivery",
    "procreap_argv0_match",
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
        "int64_t": "i64",
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
    # Pointer targets only (c_size_t and c_uint64 are one type on LP64).
    names = {
        ctypes.c_int32: "int32_t",
        ctypes.c_uint32: "uint32_t",
        ctypes.c_size_t: "size_t",
        ctypes.c_char: "char",
    }
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


ENUMS = {
    "PROCREAP_ACTION_KIND_": procreap.ActionKind,
    "PROCREAP_VERDICT_KIND_": procreap.VerdictKind,
    "PROCREAP_BACKEND_": procreap.Backend,
    "PROCREAP_KIND_": procreap.Kind,
    "PROCREAP_DELIVERY_": procreap.Delivery,
    "PROCREAP_ARGV0_MATCH_": procreap.Argv0Match,
}


@pytest.mark.parametrize("prefix", sorted(ENUMS))
def test_every_c_enum_value_is_a_member_named_after_its_constant(prefix):
    """Both ways: each header constant is the member of the same name, whose
    value is what the library's _str function says for that number."""
    cls = ENUMS[prefix]
    consts = header_enum(prefix)
    assert sorted(consts) == sorted(m.name for m in cls)
    for const, n in consts.items():
        assert _enums.from_c(cls, n) is cls[const]
        assert _enums.to_c(cls[const]) == n
        assert cls[const] == const.lower().replace("_", "-")


def test_unknown_c_values_are_an_error_not_a_guess():
    with pytest.raises(procreap.Error, match="binding"):
        _enums.from_c(procreap.VerdictKind, 999)


def test_signal_values_are_the_kernels():
    from procreap._types import signal_name

    sig = header_enum("PROCREAP_SIGNAL_")
    assert {v: (None if k == "NONE" else k) for k, v in sig.items()} == {
        v: signal_name(v) for v in sig.values()
    }


def test_every_config_getter_and_setter_is_a_knob():
    """Config has a knob per C setter/getter pair, and nothing else."""
    setters = {n.removeprefix("procreap_config_set_") for n in _lib.FUNCTIONS if n.startswith("procreap_config_set_")}
    getters = {n.removeprefix("procreap_config_get_") for n in _lib.FUNCTIONS if n.startswith("procreap_config_get_")}
    assert setters == getters
    assert sorted(k.c_name for k in _config.KNOBS.values()) == sorted(setters)
    assert list(_config.KNOBS) == list(procreap.ConfigOptions.__annotations__)


def test_a_new_config_reads_as_the_library_defaults():
    """Config() is procreap_config_new: every knob reads as the getter on a
    NULL configuration (the library's defaults; nothing is written here)."""
    with procreap.Config() as cfg:
        for name, knob in _config.KNOBS.items():
            assert getattr(cfg, name) == knob.default(), name
        assert cfg.workspace_root is None and cfg.state_dir is None
        assert cfg.agent_names == procreap.DEFAULT_AGENT_NAMES
        assert cfg.ide_markers == procreap.DEFAULT_IDE_MARKERS


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
    assert cfg.min_age_secs == 60 and cfg.grace_secs == 60
    assert cfg.subprocess_timeout_secs == 2
    assert cfg.lock_timeout_secs == 5


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
