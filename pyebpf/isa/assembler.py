"""Assemble eBPF text into a `Program`: the LLVM/kernel dialect and the uBPF/conformance dialect.

    assemble(text, dialect=None, maps=None, helpers=None, filename="<input>") -> Program

`dialect` is "llvm" (LLVM 14..20 and `clang -S` text), "kernel" (the verifier log's spelling; same parser, but
`rX = 0x...` without `ll` is a 64-bit load, as the kernel prints lddw), "ubpf" (bpf_conformance / uBPF), or None
to decide line by line (a uBPF mnemonic such as `mov` or `ldxw` picks the uBPF parser, anything else the LLVM one).
Lines may carry what tools print around an instruction: kernel slot numbers and opcodes (`12: (b7) r0 = 42`),
llvm-objdump addresses, bytes and relocation records, `<func>:` headers. Labels (`name:`) and comments
(`#`, `;`, `//`) are allowed everywhere; directives (see `asm_directives`) declare maps, the program type,
license and name. Every error in the file is reported, each with line, column and the length of the bad token,
in one `AsmError`.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from pyebpf._gc import collector_paused
from pyebpf.abi.helpers import HELPER_BY_NAME, HelperId
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.opcodes import OP_CALL, OP_EXIT, OP_LD_IMM64, CallSrc, PseudoSrc
from pyebpf.errors import MAX_DIAGNOSTICS, AsmDiagnostic, AsmError, DecodeError
from pyebpf.isa.asm_directives import ProgramMeta, apply_directive
from pyebpf.isa.asm_llvm import parse_llvm
from pyebpf.isa.asm_llvm_fast import fast_llvm
from pyebpf.isa.asm_syntax import Fixup, FixupKind, LineError, S16_MAX, S16_MIN
from pyebpf.isa.asm_ubpf import fast_ubpf, looks_ubpf, parse_ubpf
from pyebpf.isa.instruction import Instruction, decode
from pyebpf.isa.program import Program

DIALECTS = ("llvm", "kernel", "ubpf")

_LABEL = re.compile(r"([A-Za-z_.$][\w.$]*)\s*:(?=\s|$)")
# Slot numbers are ASCII and at most 10 digits (re.ASCII: `\d` would also match digits int() refuses, and an
# unbounded run of them would be converted to an int of any size).
_OBJDUMP_INSN = re.compile(r"(\d{1,10}):\s+((?:[0-9a-fA-F]{2} ){7}[0-9a-fA-F]{2}"
                           r"(?: (?:[0-9a-fA-F]{2} ){7}[0-9a-fA-F]{2})?)(?:\s+|$)", re.ASCII)
_OBJDUMP_FUNC = re.compile(r"[0-9a-fA-F]+ <([^>]+)>:$")
_OBJDUMP_RELOC = re.compile(r"[0-9a-fA-F]+:\s+R_BPF_\w+\s+(\S+)")
# `12: (b7) `, `(b7) `, and the liveness listing's `12: .1.3...... (b7) ` of 6.x verifier logs
_KERNEL_PREFIX = re.compile(r"(?:(\d{1,10}):\s*(?:[.0-9]{10}\s+)?)?\(([0-9a-fA-F]{2})\)\s*", re.ASCII)
_SLOT_PREFIX = re.compile(r"(\d{1,10}):\s+", re.ASCII)
#: Verifier-log lines that are not instructions (register states, liveness and precision notes, statistics).
_LOG_NOISE = re.compile(
    r"\s*(?:\d+: (?:R\d+|fp-?\d+)\S*=|\d+: frame\d+:|from \d+ to \d+: |processed \d+ insns|func#\d+ @\d+|"
    r"Live regs before insn:|last_idx |regs=|parent |mark_precise|verification time|stack depth|"
    r"\(\d+\) (?:frame \d+ insn \d+ |live stack update)|"
    r"frame\d+: |propagating |caller:|callee:|returning from callee|to caller at|Func#\d+|Validating |"
    r"safe$|in (?:sub)?prog|\d+: safe|BPF program is too large|jump out of range|invalid )")
#: Lines only a verifier log has. Its state and statistics lines (_LOG_NOISE) are skipped only in a text that
#: has one of these; anywhere else a line that does not assemble is an error, never dropped.
_LOG_SIGNS = re.compile(
    r"^[ \t]*(?:\d{1,10}: (?:[.0-9]{10}[ \t]+)?\([0-9a-fA-F]{2}\) |processed \d+ insns|func#\d+ @\d+|"
    r"Live regs before insn:|from \d+ to \d+: |\d+: R\d+_?w?=|\d+: frame\d+:)", re.MULTILINE | re.ASCII)
#: At most MAX_DIAGNOSTICS (pyebpf.errors) diagnostics are kept (as compilers stop after -ferror-limit errors), each
#: message with words shortened: a hostile input gets a bounded message, not one the size of input x errors.
_LONG_WORD = re.compile(r"\S{61,}")
_SPACE = re.compile(r"\s*")
_SECTION_HEADER = re.compile(r"Disassembly of section (\S+):$")
_FILE_HEADER = re.compile(r"\S+:\s+file format ")


#: First characters of lines the general path must look at (besides digits: objdump lines, directives, headers).
_DECORATED_START = frozenset("(.D")


def _strip_comment(line: str) -> str:
    """Cut `#`, `;` or `//` comments; a `#` glued to a word is the kernel's `call name#id`, not a comment."""
    cut = len(line)
    i = line.find(";")
    if i >= 0:
        cut = i
    i = line.find("//")
    if 0 <= i < cut:
        cut = i
    i = line.find("#")
    while 0 <= i < cut:
        if i == 0 or line[i - 1] in " \t":
            cut = i
            break
        i = line.find("#", i + 1)
    return line[:cut]


def _helper_table(extra: "Mapping[str, int] | None") -> dict[str, int]:
    table: dict[str, int] = {k: int(v) for k, v in HELPER_BY_NAME.items()}
    # HELPER_BY_NAME leaves out BPF_FUNC_unspec (no callable helper), but the kernel's func_id_str[] names
    # it and the verifier log prints `call bpf_unspec#0`: that text is helper 0, not a kfunc
    table.setdefault("bpf_unspec", int(HelperId.UNSPEC))
    if extra:
        table.update({k: int(v) for k, v in extra.items()})
    return table


class _Assembly:
    """State of one assembly run: instructions so far, labels, pending names, diagnostics."""

    def __init__(self, dialect: str | None, maps: "Mapping[str, MapSpec] | Iterable[MapSpec] | None",
                 helpers: "Mapping[str, int] | None", filename: str):
        if dialect is not None and dialect not in DIALECTS:
            raise ValueError(f"unknown assembly dialect {dialect!r} (llvm, kernel, ubpf)")
        self.dialect = dialect
        self.kernel: bool | None = True if dialect == "kernel" else (False if dialect == "llvm" else None)
        self.filename = filename
        self.meta = ProgramMeta()
        if maps:
            items = maps.values() if isinstance(maps, Mapping) else maps
            for spec in items:
                self.meta.maps[spec.name] = spec
        self.helpers_extra = helpers
        self.insns: list[Instruction] = []
        self.slots: list[int] = []
        self.source: list[str] = []  # "line N: text" of each instruction, for explanations (verifier/explain.py)
        self.slot = 0
        self.labels: dict[str, int] = {}
        self.label_lines: dict[str, int] = {}
        # (instruction index, fixup, line number, source line, column offset of the instruction text)
        self.fixups: list[tuple[int, Fixup, int, str, int]] = []
        self.diags: list[AsmDiagnostic] = []
        self.first_exit: int | None = None
        self.saw_ubpf = dialect == "ubpf"
        self.cache: dict[str, tuple[Instruction, Fixup | None, bool]] = {}
        self.reported_gap = False
        self.slot_base: int | None = None
        #: The whole text, when it may be a verifier log (assemble() sets it; see is_verifier_log).
        self.log_text: str | None = None
        self._verifier_log: bool | None = None
        self.suppressed = 0

    def is_verifier_log(self) -> bool:
        """Whether the text is a verifier log (its state and statistics lines are then skipped). Asked only when a
        line does not assemble: searching a large text costs a tenth of assembling it."""
        if self._verifier_log is None:
            self._verifier_log = self.log_text is not None and _LOG_SIGNS.search(self.log_text) is not None
        return self._verifier_log

    # ---- reporting ----------------------------------------------------------------------------------------------
    def error(self, lineno: int, line: str, column0: int, message: str, length: int = 1) -> None:
        if len(self.diags) >= MAX_DIAGNOSTICS:
            self.suppressed += 1
            return
        if len(message) > 120:
            message = _LONG_WORD.sub(lambda m: m.group(0)[:57] + "...", message)
            if len(message) > 400:
                message = message[:397] + "..."
        self.diags.append(AsmDiagnostic(lineno, column0 + 1, message, line.rstrip("\n"), max(1, length)))

    def finish_diagnostics(self) -> None:
        """Sort the diagnostics (AsmError says how many were left out)."""
        self.diags.sort(key=lambda d: (d.line, d.column))

    # ---- one line -------------------------------------------------------------------------------------------------
    def add(self, insn: Instruction) -> int:
        index = len(self.insns)
        self.insns.append(insn)
        self.source.append("")
        self.slots.append(self.slot)
        if insn.opcode == OP_EXIT and self.first_exit is None:
            self.first_exit = self.slot
        self.slot += 2 if insn.opcode == OP_LD_IMM64 else 1
        return index

    def line(self, lineno: int, line: str) -> None:
        """Any line: labels, comments, listings, directives, instructions (assemble()'s loop takes the plain
        instruction lines it has parsed before itself)."""
        code = line
        if "#" in code or ";" in code or "//" in code:
            code = _strip_comment(code)
        text = code.strip()
        if not text:
            return
        col = code.index(text[0])
        hint = None
        first = text[0]
        if first.isdigit() or first == "(":
            done, text, col, hint = self._prefixed(lineno, line, text, col)
            if done:
                return
            if not text:
                self.error(lineno, line, max(0, col - 1), "expected an instruction after the slot number or opcode")
                return
        elif first == "D" or "file format" in text:
            if self._headers(text):
                return
        if ":" in text:
            # Labels `a: b: insn`: walk them by position (slicing the text at each would be quadratic).
            pos = 0
            match = _LABEL.match
            while True:
                m = match(text, pos)
                if m is None:
                    break
                self._label(lineno, line, m.group(1), col + pos)
                pos = _SPACE.match(text, m.end()).end()
                if pos == len(text):
                    return
            if pos:
                col += pos
                text = text[pos:]
        if text[0] == ".":
            if self.meta.in_data_section and not text.startswith((".section", ".text")):
                return
            try:
                apply_directive(text, self.meta)
            except LineError as e:
                self.error(lineno, line, col + (e.start or 0), e.message, e.length)
            return
        if self.meta.in_data_section:
            return
        self._instruction(lineno, line, text, col, hint)

    def _headers(self, text: str) -> bool:
        m = _SECTION_HEADER.match(text)
        if m is not None:
            name = m.group(1)
            self.meta.in_data_section = False
            self.slot_base = None  # each section's listing numbers its slots from 0 again
            if not name.startswith("."):
                try:
                    apply_directive(f".section {name}", self.meta)
                except LineError:
                    pass  # an objdump section we do not know the program type of: keep the code
            return True
        return _FILE_HEADER.match(text) is not None

    def _prefixed(self, lineno: int, line: str, text: str, col: int) -> tuple[bool, str, int, "int | None"]:
        """Handle llvm-objdump and verifier-log decorations; returns (line consumed, rest, column, opcode hint)."""
        m = _OBJDUMP_FUNC.match(text)
        if m is not None:
            self._label(lineno, line, m.group(1), col + m.start(1))
            return True, text, col, None
        m = _OBJDUMP_RELOC.match(text)
        if m is not None:
            if self.insns:
                name = m.group(1)
                self.fixups.append((len(self.insns) - 1, Fixup(FixupKind.RELOC, name, m.start(1), len(name)),
                                    lineno, line, col))
            return True, text, col, None
        m = _OBJDUMP_INSN.match(text)
        if m is not None:
            raw = bytes.fromhex(m.group(2).replace(" ", ""))
            try:
                insns = decode(raw)
            except DecodeError as e:
                self.error(lineno, line, col + m.start(2), f"bad instruction bytes: {e.message}", len(m.group(2)))
                return True, text, col, None
            if len(insns) != 1:
                self.error(lineno, line, col + m.start(2), "expected the bytes of one instruction", len(m.group(2)))
                return True, text, col, None
            self.add(insns[0])
            return True, text, col, None
        m = _KERNEL_PREFIX.match(text)
        if m is not None:
            if m.group(1) is not None and self._seen_slot(lineno, line, int(m.group(1)), col):
                return True, text, col, None
            return False, text[m.end():], col + m.end(), int(m.group(2), 16)
        m = _SLOT_PREFIX.match(text)
        if m is not None:
            if self._seen_slot(lineno, line, int(m.group(1)), col):
                return True, text, col, None
            return False, text[m.end():], col + m.end(), None
        return False, text, col, None

    def _seen_slot(self, lineno: int, line: str, slot: int, col: int) -> bool:
        """Listings numbered by slot (verifier logs, bpftool, objdump without bytes) place each instruction at
        its slot: a slot already assembled is a repeat (the verifier prints an instruction on every path and
        in its liveness table), so the line is skipped; a slot beyond the next one means the log left
        instructions out (code the verifier never reached), which cannot be assembled. The first numbered
        line fixes where the listing starts, so an excerpt from the middle of a log reads too."""
        if self.slot_base is None:
            self.slot_base = slot - self.slot
        here = self.slot + self.slot_base
        if slot < here:
            return True
        if slot > here and not self.reported_gap:
            self.reported_gap = True
            self.error(lineno, line, col, f"slot {slot} follows slot {here - 1}: the listing leaves out "
                                          f"slots {here}..{slot - 1}", len(str(slot)))
        return False

    def _label(self, lineno: int, line: str, name: str, col: int) -> None:
        if name in self.labels:
            self.error(lineno, line, col, f"label {name!r} defined twice (first on line {self.label_lines[name]})",
                       len(name))
            return
        self.labels[name] = self.slot
        self.label_lines[name] = lineno

    def _instruction(self, lineno: int, line: str, text: str, col: int, hint: int | None) -> None:
        if hint == OP_LD_IMM64 and self.dialect != "ubpf" and not text.endswith("ll"):
            text = text + " ll"  # the verifier log prints lddw without LLVM's `ll`
        cached = self.cache.get(text)
        if cached is None:
            try:
                cached = self._parse(text)
            except LineError as e:
                if _LOG_NOISE.match(line) and self.is_verifier_log():
                    return  # a pasted verifier log: state and statistics lines around the instructions
                self.error(lineno, line, col + (e.start or 0), e.message, e.length)
                return
            self.cache[text] = cached
        if hint is not None and cached[0].opcode != hint:
            self.error(lineno, line, col, f"the instruction assembles to opcode {cached[0].opcode:#04x}, "
                                          f"not the ({hint:02x}) written before it", len(text))
            return
        self._append(lineno, line, text, cached, col)

    def _append(self, lineno: int, line: str, text: str, cached: tuple[Instruction, "Fixup | None", bool],
                col: int | None = None) -> None:
        """Add a parsed instruction (`text`, found at column `col` of `line`; by default where it starts)."""
        insn, fix, ubpf = cached
        if ubpf:
            self.saw_ubpf = True
        index = len(self.insns)
        self.insns.append(insn)
        self.source.append(f"line {lineno}: {line.strip()}")
        self.slots.append(self.slot)
        if insn.opcode == OP_LD_IMM64:
            self.slot += 2
        else:
            if insn.opcode == OP_EXIT and self.first_exit is None:
                self.first_exit = self.slot
            self.slot += 1
        if fix is not None:
            self.fixups.append((index, fix, lineno, line, line.index(text) if col is None else col))

    def _parse(self, text: str) -> tuple[Instruction, "Fixup | None", bool]:
        """Parse one instruction text (a pure function of the text, so the result is cached per run)."""
        dialect = self.dialect
        if dialect == "ubpf":
            return (*parse_ubpf(text), True)
        if dialect is not None:
            return (*parse_llvm(text, self.kernel), False)
        word = text.split(None, 1)[0]
        if looks_ubpf(word) or (word in ("call", "callx", "lock") and ("%" in text or "[" in text)):
            return (*parse_ubpf(text), True)
        return (*parse_llvm(text, self.kernel), False)

    # ---- after the last line -----------------------------------------------------------------------------------
    def resolve(self) -> None:
        labels = self.labels
        implicit_exit = (self.dialect == "ubpf" or (self.dialect is None and self.saw_ubpf)) \
            and "exit" not in labels and self.first_exit is not None
        helpers: dict[str, int] | None = None
        used_labels: set[str] = set()
        for index, fix, lineno, line, col in self.fixups:
            insn = self.insns[index]
            slot = self.slots[index]
            kind, name = fix.kind, fix.name
            where = (lineno, line, col + fix.start)
            if kind is FixupKind.MAP:
                if name not in self.meta.maps:
                    self.error(*where, f"unknown map {name!r} (declare it with .map or pass maps=)", fix.length)
                continue
            if kind is FixupKind.RELOC:
                self._apply_reloc(index, insn, name)
                continue
            if kind is FixupKind.CALL_NAME:
                target = labels.get(name)
                if target is not None and fix.number != -1:
                    used_labels.add(name)
                    self._set_imm_target(index, insn._replace(src=CallSrc.PSEUDO_CALL), slot, target)
                    continue
                if name in self.meta.kfuncs:
                    self.insns[index] = insn._replace(src=CallSrc.KFUNC, imm=self.meta.kfuncs[name])
                    continue
                if fix.number == -1:
                    self.error(*where, f"unknown kfunc {name!r} (declare its BTF id with .kfunc {name} ID)",
                               fix.length)
                    continue
                if helpers is None:
                    helpers = _helper_table(self.helpers_extra)
                hid = helpers.get(name)
                if hid is None and name == "unknown" and fix.number is not None:
                    hid = fix.number
                if hid is not None:
                    if fix.number is not None and fix.number != hid:
                        self.error(*where, f"helper {name} is #{hid}, not #{fix.number}", fix.length)
                        continue
                    self.insns[index] = insn._replace(src=CallSrc.HELPER, imm=hid)
                    continue
                if fix.number is not None:  # kernel log: a kfunc printed as `call name#btf_id`
                    self.insns[index] = insn._replace(src=CallSrc.KFUNC, imm=fix.number)
                    continue
                self.error(*where, f"unknown helper or function {name!r}", fix.length)
                continue
            target = labels.get(name)
            if target is None and name == "exit" and implicit_exit:
                target = self.first_exit
            if target is None:
                self.error(*where, f"undefined label {name!r}", fix.length)
                continue
            used_labels.add(name)
            if kind is FixupKind.LABEL_OFF:
                rel = target - (slot + 1)
                if not S16_MIN <= rel <= S16_MAX:
                    self.error(*where, f"jump to {name!r} out of 16-bit range (offset {rel}); use gotol",
                               fix.length)
                    continue
                self.insns[index] = insn._replace(off=rel)
            else:
                self._set_imm_target(index, insn, slot, target)
        if implicit_exit and "exit" in used_labels and "exit" not in labels:
            labels["exit"] = self.first_exit  # type: ignore[assignment]

    def _set_imm_target(self, index: int, insn: Instruction, slot: int, target: int) -> None:
        """gotol, pseudo calls and function addresses keep the relative slot offset in imm (32 bits: any label
        of a program fits)."""
        self.insns[index] = insn._replace(imm=target - (slot + 1))

    def _apply_reloc(self, index: int, insn: Instruction, name: str) -> None:
        """llvm-objdump -r: `R_BPF_64_64 counts` after `r1 = 0 ll` is map[counts]; after `call -1`, a call to
        a local function (or a declared kfunc). Symbols we cannot place (globals, externs) leave the
        instruction as its bytes or text say."""
        if insn.opcode == OP_LD_IMM64 and name in self.meta.maps:
            self.insns[index] = insn._replace(src=PseudoSrc.MAP_FD, imm=0, ref=name)
        elif insn.opcode == OP_CALL and name in self.labels:
            self._set_imm_target(index, insn._replace(src=CallSrc.PSEUDO_CALL), self.slots[index],
                                 self.labels[name])
        elif insn.opcode == OP_CALL and name in self.meta.kfuncs:
            self.insns[index] = insn._replace(src=CallSrc.KFUNC, imm=self.meta.kfuncs[name])

    def program(self) -> Program:
        meta = self.meta
        kw = {}
        if meta.license is not None:
            kw["license"] = meta.license
        prog = Program(self.insns, dict(meta.maps), prog_type=meta.prog_type, name=meta.name,
                       labels=dict(self.labels), expected_attach_type=meta.expected_attach_type,
                       attach_to=meta.attach_to, **kw)
        prog.source_lines = dict(zip(self.slots, self.source))  # type: ignore[attr-defined]
        return prog


def assemble(text: str, dialect: str | None = None,
             maps: "Mapping[str, MapSpec] | Iterable[MapSpec] | None" = None,
             helpers: "Mapping[str, int] | None" = None, filename: str = "<input>") -> Program:
    """Assemble a whole program; raises AsmError listing every problem (line, column, caret) in the text."""
    return collector_paused(_assemble, text, dialect, maps, helpers, filename)


def _assemble(text: str, dialect: str | None, maps: "Mapping[str, MapSpec] | Iterable[MapSpec] | None",
              helpers: "Mapping[str, int] | None", filename: str) -> Program:
    """assemble() with the cyclic collector paused (a program's instructions and line texts are many acyclic
    objects made at once; see pyebpf._gc)."""
    asm = _Assembly(dialect, maps, helpers, filename)
    asm.log_text = text if dialect in (None, "kernel") else None
    add_line, instruction, cached_insn = asm.line, asm._instruction, asm.cache.get
    # Common lines first through fast_llvm / fast_ubpf (each answers as its full parser would, or not at all); with
    # the dialect left open, the line picks the parser as _parse decides.
    kernel, auto, all_ubpf = asm.kernel, dialect is None, dialect == "ubpf"
    insns, source, slots, fixups = asm.insns, asm.source, asm.slots, asm.fixups
    add_insn, add_source, add_slot, add_fixup = insns.append, source.append, slots.append, fixups.append
    slot, in_data = 0, False
    # Lines this loop took as a lone instruction before: (instruction, fixup, uBPF?, slots it takes, is exit). Whether
    # a line is one depends on its text alone, so a line seen before skips the checks and the parse.
    plain: dict[str, tuple[Instruction, "Fixup | None", bool, int, bool]] = {}
    plain_get = plain.get
    for lineno, line in enumerate(text.splitlines(), 1):
        t = line.strip()
        seen = None if in_data else plain_get(t)
        # An instruction alone on its line (most lines of a program): parsed once per distinct text, appended here
        # without the general path's look for labels, comments, listings and directives (no mark of theirs is in it).
        if seen is None and t and t[0] not in _DECORATED_START and not t[0].isdigit() and ":" not in t and \
                "#" not in t and ";" not in t and "//" not in t and not in_data:
            ubpf = all_ubpf or (auto and _ubpf_first(t))
            parsed = fast_ubpf(t) if ubpf else fast_llvm(t, kernel)
            if parsed is None:  # the full parser decides (and words any diagnostic)
                asm.slot = slot
                instruction(lineno, line, t, line.index(t), None)
                slot = asm.slot
                cached = cached_insn(t)
                if cached is not None:  # what it parsed: the next such line takes the plain path
                    opcode = cached[0][0]
                    plain[t] = (*cached, 2 if opcode == OP_LD_IMM64 else 1, opcode == OP_EXIT)
                continue
            opcode = parsed[0][0]
            seen = plain[t] = (parsed[0], parsed[1], ubpf, 2 if opcode == OP_LD_IMM64 else 1, opcode == OP_EXIT)
        if seen is not None:
            insn, fix, ubpf, width, is_exit = seen
            if ubpf:
                asm.saw_ubpf = True
            if fix is not None:
                add_fixup((len(insns), fix, lineno, line, line.index(t)))
            add_insn(insn)
            add_source(f"line {lineno}: {t}")
            add_slot(slot)
            if is_exit and asm.first_exit is None:
                asm.first_exit = slot
            slot += width
            continue
        asm.slot = slot
        add_line(lineno, line)
        slot, in_data = asm.slot, asm.meta.in_data_section
    asm.slot = slot
    asm.resolve()
    if asm.diags:
        asm.finish_diagnostics()
        raise AsmError(asm.diags, filename, omitted=asm.suppressed)
    return asm.program()


def _ubpf_first(text: str) -> bool:
    """Whether _Assembly._parse would read `text` as the uBPF dialect when the dialect is left open."""
    word = text.split(None, 1)[0]
    return looks_ubpf(word) or (word in ("call", "callx", "lock") and ("%" in text or "[" in text))


def assemble_instruction(text: str, dialect: str | None = None) -> Instruction:
    """One instruction without labels or names (numbers only); handy in tests and the REPL."""
    program = assemble(text, dialect)
    if len(program.instructions) != 1:
        raise AsmError(AsmDiagnostic(1, 1, f"expected one instruction, got {len(program.instructions)}", text),
                       "<input>")
    return program.instructions[0]


__all__ = ["assemble", "assemble_instruction", "DIALECTS", "AsmError"]
