"""The pieces of `union bpf_attr` and the `bpf_*_info` structs, as ctypes Structures named like the kernel's.

Each bpf() command reads one member of the union; we pass only that member (the kernel zero-extends a shorter
attr and checks that bytes past the fields it knows are zero). Layouts follow include/uapi/linux/bpf.h of Linux
6.18 — newer fields (log_true_size, fd_array_cnt, token fds) sit at the end of their struct, so older kernels that
do not know them still accept the attr as long as those fields stay zero.
"""
from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint8, c_uint32, c_uint64

from pyebpf.abi.uapi import BPF_OBJ_NAME_LEN, BPF_TAG_SIZE

u32 = c_uint32
u64 = c_uint64  # __aligned_u64: ctypes aligns 8-byte fields to 8 on every 64-bit ABI we support


class _Attr(ctypes.Structure):
    """Base with a readable repr for debugging."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name, *_ in self._fields_
                           if not name.startswith("_"))
        return f"{type(self).__name__}({fields})"


class bpf_map_create_attr(_Attr):
    """BPF_MAP_CREATE."""

    _fields_ = [
        ("map_type", u32), ("key_size", u32), ("value_size", u32), ("max_entries", u32), ("map_flags", u32),
        ("inner_map_fd", u32), ("numa_node", u32), ("map_name", c_char * BPF_OBJ_NAME_LEN), ("map_ifindex", u32),
        ("btf_fd", u32), ("btf_key_type_id", u32), ("btf_value_type_id", u32), ("btf_vmlinux_value_type_id", u32),
        ("map_extra", u64), ("value_type_btf_obj_fd", c_int32), ("map_token_fd", c_int32),
    ]


class bpf_map_elem_attr(_Attr):
    """BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_AND_DELETE_ELEM.

    `value` doubles as `next_key` for GET_NEXT_KEY (a union in the kernel).
    """

    _fields_ = [("map_fd", u32), ("key", u64), ("value", u64), ("flags", u64)]


class bpf_map_batch_attr(_Attr):
    """BPF_MAP_*_BATCH (`batch` in the union)."""

    _fields_ = [
        ("in_batch", u64), ("out_batch", u64), ("keys", u64), ("values", u64), ("count", u32), ("map_fd", u32),
        ("elem_flags", u64), ("flags", u64),
    ]


class bpf_prog_load_attr(_Attr):
    """BPF_PROG_LOAD."""

    _fields_ = [
        ("prog_type", u32), ("insn_cnt", u32), ("insns", u64), ("license", u64), ("log_level", u32),
        ("log_size", u32), ("log_buf", u64), ("kern_version", u32), ("prog_flags", u32),
        ("prog_name", c_char * BPF_OBJ_NAME_LEN), ("prog_ifindex", u32), ("expected_attach_type", u32),
        ("prog_btf_fd", u32), ("func_info_rec_size", u32), ("func_info", u64), ("func_info_cnt", u32),
        ("line_info_rec_size", u32), ("line_info", u64), ("line_info_cnt", u32), ("attach_btf_id", u32),
        ("attach_prog_fd", u32),  # union with attach_btf_obj_fd
        ("core_relo_cnt", u32), ("fd_array", u64), ("core_relos", u64), ("core_relo_rec_size", u32),
        ("log_true_size", u32), ("prog_token_fd", c_int32), ("fd_array_cnt", u32),
    ]


class bpf_obj_attr(_Attr):
    """BPF_OBJ_PIN / BPF_OBJ_GET."""

    _fields_ = [("pathname", u64), ("bpf_fd", u32), ("file_flags", u32), ("path_fd", c_int32)]


class bpf_prog_attach_attr(_Attr):
    """BPF_PROG_ATTACH / BPF_PROG_DETACH (legacy attach: cgroups, sockmap, flow dissector, lirc)."""

    _fields_ = [
        ("target_fd", u32), ("attach_bpf_fd", u32), ("attach_type", u32), ("attach_flags", u32),
        ("replace_bpf_fd", u32), ("relative_fd", u32), ("expected_revision", u64),
    ]


class bpf_test_run_attr(_Attr):
    """BPF_PROG_TEST_RUN (`test` in the union)."""

    _fields_ = [
        ("prog_fd", u32), ("retval", u32), ("data_size_in", u32), ("data_size_out", u32), ("data_in", u64),
        ("data_out", u64), ("repeat", u32), ("duration", u32), ("ctx_size_in", u32), ("ctx_size_out", u32),
        ("ctx_in", u64), ("ctx_out", u64), ("flags", u32), ("cpu", u32), ("batch_size", u32),
    ]


class bpf_get_id_attr(_Attr):
    """BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID: `start_id` is also prog_id/map_id/btf_id/link_id."""

    _fields_ = [("start_id", u32), ("next_id", u32), ("open_flags", u32), ("fd_by_id_token_fd", u32)]


class bpf_info_attr(_Attr):
    """BPF_OBJ_GET_INFO_BY_FD (`info` in the union)."""

    _fields_ = [("bpf_fd", u32), ("info_len", u32), ("info", u64)]


class bpf_raw_tracepoint_attr(_Attr):
    """BPF_RAW_TRACEPOINT_OPEN."""

    _fields_ = [("name", u64), ("prog_fd", u32), ("_pad", u32), ("cookie", u64)]


class bpf_btf_load_attr(_Attr):
    """BPF_BTF_LOAD."""

    _fields_ = [
        ("btf", u64), ("btf_log_buf", u64), ("btf_size", u32), ("btf_log_size", u32), ("btf_log_level", u32),
        ("btf_log_true_size", u32), ("btf_flags", u32), ("btf_token_fd", c_int32),
    ]


class bpf_link_create_attr(_Attr):
    """BPF_LINK_CREATE. The per-attach-type tail (`target_btf_id`, perf_event cookie, kprobe_multi, tcx, ...) is a
    union in the kernel; here it is 48 raw bytes (`extra`) that attach code fills with its own small struct."""

    _fields_ = [
        ("prog_fd", u32), ("target_fd", u32),  # target_fd / target_ifindex
        ("attach_type", u32), ("flags", u32), ("extra", c_uint8 * 48),
    ]


class bpf_link_update_attr(_Attr):
    _fields_ = [("link_fd", u32), ("new_prog_fd", u32), ("flags", u32), ("old_prog_fd", u32)]


class bpf_link_detach_attr(_Attr):
    _fields_ = [("link_fd", u32)]


class bpf_enable_stats_attr(_Attr):
    _fields_ = [("type", u32)]


class bpf_prog_bind_map_attr(_Attr):
    _fields_ = [("prog_fd", u32), ("map_fd", u32), ("flags", u32)]


class bpf_prog_query_attr(_Attr):
    """BPF_PROG_QUERY (`query` in the union)."""

    _fields_ = [
        ("target_fd", u32), ("attach_type", u32), ("query_flags", u32), ("attach_flags", u32), ("prog_ids", u64),
        ("prog_cnt", u32), ("_pad", u32), ("prog_attach_flags", u64), ("link_ids", u64), ("link_attach_flags", u64),
        ("revision", u64),
    ]


# ---- BPF_OBJ_GET_INFO_BY_FD results ---------------------------------------------------------------------------

class bpf_prog_info(_Attr):
    _fields_ = [
        ("type", u32), ("id", u32), ("tag", c_uint8 * BPF_TAG_SIZE), ("jited_prog_len", u32),
        ("xlated_prog_len", u32), ("jited_prog_insns", u64), ("xlated_prog_insns", u64), ("load_time", u64),
        ("created_by_uid", u32), ("nr_map_ids", u32), ("map_ids", u64), ("name", c_char * BPF_OBJ_NAME_LEN),
        ("ifindex", u32), ("gpl_compatible", u32),  # bit 0; the other 31 bits are padding
        ("netns_dev", u64), ("netns_ino", u64), ("nr_jited_ksyms", u32), ("nr_jited_func_lens", u32),
        ("jited_ksyms", u64), ("jited_func_lens", u64), ("btf_id", u32), ("func_info_rec_size", u32),
        ("func_info", u64), ("nr_func_info", u32), ("nr_line_info", u32), ("line_info", u64),
        ("jited_line_info", u64), ("nr_jited_line_info", u32), ("line_info_rec_size", u32),
        ("jited_line_info_rec_size", u32), ("nr_prog_tags", u32), ("prog_tags", u64), ("run_time_ns", u64),
        ("run_cnt", u64), ("recursion_misses", u64), ("verified_insns", u32), ("attach_btf_obj_id", u32),
        ("attach_btf_id", u32), ("_pad", u32),
    ]


class bpf_map_info(_Attr):
    _fields_ = [
        ("type", u32), ("id", u32), ("key_size", u32), ("value_size", u32), ("max_entries", u32),
        ("map_flags", u32), ("name", c_char * BPF_OBJ_NAME_LEN), ("ifindex", u32),
        ("btf_vmlinux_value_type_id", u32), ("netns_dev", u64), ("netns_ino", u64), ("btf_id", u32),
        ("btf_key_type_id", u32), ("btf_value_type_id", u32), ("btf_vmlinux_id", u32), ("map_extra", u64),
    ]


class bpf_link_info(_Attr):
    """Common head of struct bpf_link_info; `detail` holds the per-link-type union as raw bytes."""

    _fields_ = [("type", u32), ("id", u32), ("prog_id", u32), ("_pad", u32), ("detail", c_uint8 * 64)]


class bpf_btf_info(_Attr):
    _fields_ = [("btf", u64), ("btf_size", u32), ("id", u32), ("name", u64), ("name_len", u32),
                ("kernel_btf", u32)]


class bpf_func_info(_Attr):
    """One func_info record: the subprogram starting at `insn_off` (slot) has BTF FUNC type `type_id`."""

    _fields_ = [("insn_off", u32), ("type_id", u32)]


class bpf_line_info(_Attr):
    """One line_info record: source position (in the BTF string section) of the instruction at `insn_off`."""

    _fields_ = [("insn_off", u32), ("file_name_off", u32), ("line_off", u32), ("line_col", u32)]


__all__ = [name for name in dir() if name.startswith("bpf_")]
