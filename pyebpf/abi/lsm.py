"""BPF LSM hook facts the kernel keeps in `.BTF_ids` sets of kernel/bpf/bpf_lsm.c, which /sys/kernel/btf/vmlinux
does not carry: the disabled hooks, the sleepable ones, the ones whose arguments are not trusted, and those that
return a bool. Which FUNCs are hooks at all is in BTF (every LSM_HOOK() is a member of union security_list_options),
so it is read there (pyebpf.verifier.btf_ptr), not listed here.

Copied from linux 6.12 (the release the guests check LSM programs against: the 6.18 host refuses LSM loads before
verifying). Names are the hook names without the `bpf_lsm_` prefix of their attach FUNC (an LSM program attaches
to the no-op FUNC bpf_lsm_<hook>; pyebpf.btf.kernel.BTF_LSM_PREFIX).
"""
from __future__ import annotations

__all__ = ["MAX_ERRNO", "LSM_DISABLED_HOOKS", "LSM_SLEEPABLE_HOOKS", "LSM_UNTRUSTED_HOOKS", "LSM_BOOL_HOOKS",
           "LSM_HOOKS_UNION"]
LSM_HOOKS_UNION = "security_list_options"
"""union security_list_options: one member per LSM_HOOK(), the hooks a BPF LSM program may attach to."""
MAX_ERRNO = 4095
"""include/linux/err.h: an int LSM hook returns 0 or -errno, -MAX_ERRNO at least."""

LSM_DISABLED_HOOKS = frozenset({
    "vm_enough_memory", "inode_need_killpriv", "inode_getsecurity", "inode_listsecurity", "inode_copy_up_xattr",
    "getselfattr", "getprocattr", "setprocattr", "key_getsecurity", "audit_rule_match", "xfrm_decode_session",
    "ismaclabel",
})
"""bpf_lsm_disabled_hooks: refused at load (`attach_btf_id N points to disabled hook bpf_lsm_X`)."""

LSM_SLEEPABLE_HOOKS = frozenset({
    "bpf", "bpf_map", "bpf_map_create", "bpf_map_free", "bpf_prog", "bpf_prog_load", "bpf_token_create",
    "bpf_token_free", "bpf_token_cmd", "bpf_token_capable", "bprm_check_security", "bprm_committed_creds",
    "bprm_committing_creds", "bprm_creds_for_exec", "bprm_creds_from_file", "capget", "capset", "cred_prepare",
    "file_ioctl", "file_lock", "file_open", "file_post_open", "file_receive", "inode_create", "inode_free_security",
    "inode_getattr", "inode_getxattr", "inode_mknod", "inode_need_killpriv", "inode_post_setxattr",
    "inode_readlink", "inode_rename", "inode_rmdir", "inode_setattr", "inode_setxattr", "inode_symlink",
    "inode_unlink", "kernel_module_request", "kernel_read_file", "kernfs_init_security", "path_unlink",
    "path_mkdir", "path_rmdir", "path_truncate", "path_symlink", "path_link", "path_rename", "path_chmod",
    "path_chown", "mmap_file", "netlink_send", "path_notify", "release_secctx", "sb_alloc_security",
    "sb_eat_lsm_opts", "sb_kern_mount", "sb_mount", "sb_remount", "sb_set_mnt_opts", "sb_show_options",
    "sb_statfs", "sb_umount", "settime", "socket_accept", "socket_bind", "socket_connect", "socket_create",
    "socket_getpeername", "socket_getpeersec_dgram", "socket_getsockname", "socket_getsockopt", "socket_listen",
    "socket_post_create", "socket_recvmsg", "socket_sendmsg", "socket_shutdown", "socket_socketpair", "syslog",
    "task_alloc", "current_getsecid_subj", "task_getsecid_obj", "task_prctl", "task_setscheduler", "userns_create",
})
"""sleepable_lsm_hooks: an lsm.s program elsewhere is refused (`bpf_lsm_X is not sleepable`)."""

LSM_UNTRUSTED_HOOKS = frozenset({
    "bpf_map_free", "bpf_prog_free", "file_alloc_security", "file_free_security", "sk_alloc_security",
    "sk_free_security", "task_free",
})
"""untrusted_lsm_hooks: bpf_lsm_is_trusted() is false, so their pointer arguments are not PTR_TRUSTED."""

LSM_BOOL_HOOKS = frozenset({"xfrm_state_pol_flow_match", "audit_rule_known", "inode_xattr_skipcap"})
"""bool_lsm_hooks: return 0 or 1 (bpf_lsm_get_retval_range); every other int hook 0 or -errno."""

