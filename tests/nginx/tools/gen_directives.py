#!/usr/bin/env python3
"""Regenerates src/nginx/directives_table.rs from an nginx source tree.

Reads the `ngx_command_t` arrays of the modules compiled into Debian's nginx 1.22.1 (the oracle
that `make test` installs) at git tag release-1.22.1, evaluating the few `#if` guards that matter
for that build. Output: one row per directive entry (name, module type, NGX_CONF_* flags, setter
kind). It only reads C text; it builds nothing.

    python3 tests/nginx/tools/gen_directives.py /path/to/nginx.git release-1.22.1 > src/nginx/directives_table.rs
"""
import re
import subprocess
import sys

repo, tag = sys.argv[1], sys.argv[2]

# `strings /usr/sbin/nginx | grep -E '^ngx_[a-z0-9_]+_module$'` on Debian's nginx 1.22.1.
MODULES = set("""ngx_conf_module ngx_core_module ngx_epoll_module ngx_errlog_module
ngx_event_core_module ngx_events_module ngx_http_access_module ngx_http_addition_filter_module
ngx_http_auth_basic_module ngx_http_auth_request_module ngx_http_autoindex_module
ngx_http_browser_module ngx_http_charset_filter_module ngx_http_chunked_filter_module
ngx_http_copy_filter_module ngx_http_core_module ngx_http_dav_module ngx_http_empty_gif_module
ngx_http_fastcgi_module ngx_http_flv_module ngx_http_geo_module ngx_http_grpc_module
ngx_http_gunzip_filter_module ngx_http_gzip_filter_module ngx_http_gzip_static_module
ngx_http_header_filter_module ngx_http_headers_filter_module ngx_http_index_module
ngx_http_limit_conn_module ngx_http_limit_req_module ngx_http_log_module ngx_http_map_module
ngx_http_memcached_module ngx_http_mirror_module ngx_http_module ngx_http_mp4_module
ngx_http_not_modified_filter_module ngx_http_postpone_filter_module ngx_http_proxy_module
ngx_http_random_index_module ngx_http_range_body_filter_module
ngx_http_range_header_filter_module ngx_http_realip_module ngx_http_referer_module
ngx_http_rewrite_module ngx_http_scgi_module ngx_http_secure_link_module
ngx_http_slice_filter_module ngx_http_split_clients_module ngx_http_ssi_filter_module
ngx_http_ssl_module ngx_http_static_module ngx_http_stub_status_module
ngx_http_sub_filter_module ngx_http_try_files_module ngx_http_upstream_hash_module
ngx_http_upstream_ip_hash_module ngx_http_upstream_keepalive_module
ngx_http_upstream_least_conn_module ngx_http_upstream_module ngx_http_upstream_random_module
ngx_http_upstream_zone_module ngx_http_userid_filter_module ngx_http_uwsgi_module
ngx_http_v2_filter_module ngx_http_v2_module ngx_http_write_filter_module ngx_openssl_module
ngx_regex_module ngx_thread_pool_module""".split())

# Feature macros of that build (configure arguments of `nginx -V`, Linux, OpenSSL 3).
DEFINED = {"NGX_HTTP_SSL", "NGX_PCRE", "NGX_HTTP_CACHE", "NGX_HTTP_GZIP", "NGX_THREADS",
           "NGX_HTTP_X_FORWARDED_FOR", "NGX_HTTP_REALIP", "NGX_HTTP_DAV", "NGX_HAVE_OPENAT",
           "NGX_LINUX", "NGX_HAVE_FILE_AIO", "NGX_HTTP_HEADERS", "NGX_HTTP_V2",
           "NGX_HAVE_INET6", "NGX_HAVE_SO_SNDLOWAT", "NGX_SSL", "NGX_HAVE_CPU_AFFINITY",
           "NGX_HAVE_SCHED_SETAFFINITY", "NGX_HTTP_UPSTREAM_ZONE", "NGX_HAVE_TCP_FASTOPEN",
           "NGX_HAVE_PR_SET_KEEPCAPS", "NGX_HAVE_CAPABILITIES", "NGX_HAVE_EPOLL", "NGX_HAVE_TRANSPARENT_PROXY"}

FLAG_BITS = {
    "NGX_CONF_NOARGS": 0x1, "NGX_CONF_TAKE1": 0x2, "NGX_CONF_TAKE2": 0x4, "NGX_CONF_TAKE3": 0x8,
    "NGX_CONF_TAKE4": 0x10, "NGX_CONF_TAKE5": 0x20, "NGX_CONF_TAKE6": 0x40, "NGX_CONF_TAKE7": 0x80,
    "NGX_CONF_TAKE12": 0x6, "NGX_CONF_TAKE13": 0xA, "NGX_CONF_TAKE23": 0xC, "NGX_CONF_TAKE123": 0xE,
    "NGX_CONF_TAKE1234": 0x1E, "NGX_CONF_BLOCK": 0x100, "NGX_CONF_FLAG": 0x200,
    "NGX_CONF_ANY": 0x400, "NGX_CONF_1MORE": 0x800, "NGX_CONF_2MORE": 0x1000,
    "NGX_DIRECT_CONF": 0x10000, "NGX_MAIN_CONF": 0x01000000, "NGX_ANY_CONF": 0xFF000000,
    "NGX_EVENT_CONF": 0x02000000, "NGX_HTTP_MAIN_CONF": 0x02000000, "NGX_HTTP_SRV_CONF": 0x04000000,
    "NGX_HTTP_LOC_CONF": 0x08000000, "NGX_HTTP_UPS_CONF": 0x10000000, "NGX_HTTP_SIF_CONF": 0x20000000,
    "NGX_HTTP_LIF_CONF": 0x40000000, "NGX_HTTP_LMT_CONF": 0x80000000,
}

SETTERS = {
    "ngx_conf_set_flag_slot": "Flag", "ngx_conf_set_str_slot": "Str", "ngx_conf_set_num_slot": "Num",
    "ngx_conf_set_size_slot": "Size", "ngx_conf_set_off_slot": "Off", "ngx_conf_set_msec_slot": "Msec",
    "ngx_conf_set_sec_slot": "Sec", "ngx_conf_set_enum_slot": "Enum", "ngx_conf_set_bufs_slot": "Bufs",
    "ngx_conf_set_bitmask_slot": "Bitmask", "ngx_conf_set_path_slot": "Path",
    "ngx_conf_set_access_slot": "Access",
}


def git(*args):
    return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True,
                          text=True, errors="replace").stdout


def preprocess(text):
    """Keeps the lines an #if guard over DEFINED would keep (handles #if/#elif/#else/#endif)."""
    out, stack = [], []  # stack of (active, taken)
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)", s)
        if m:
            kw, cond = m.group(1), m.group(2)
            parent = all(a for a, _ in stack)
            if kw in ("if", "ifdef", "ifndef"):
                v = eval_cond(cond, kw)
                stack.append((parent and v, v))
            elif kw == "elif":
                _, taken = stack.pop()
                v = (not taken) and eval_cond(cond, "if")
                stack.append((all(a for a, _ in stack) and v, taken or v))
            elif kw == "else":
                _, taken = stack.pop()
                stack.append((all(a for a, _ in stack) and not taken, True))
            else:
                stack.pop()
            continue
        if all(a for a, _ in stack):
            out.append(line)
    return "\n".join(out)


def eval_cond(cond, kw):
    cond = cond.split("/*")[0].strip()
    if kw == "ifdef":
        return cond in DEFINED
    if kw == "ifndef":
        return cond not in DEFINED
    expr = re.sub(r"defined\s*\(?\s*(\w+)\s*\)?", lambda m: "1" if m.group(1) in DEFINED else "0", cond)
    expr = re.sub(r"\b(NGX_\w+|OPENSSL_\w+|SSL_\w+|TLS\w*|\w+_VERSION\w*)\b",
                  lambda m: "1" if m.group(1) in DEFINED else "0", expr)
    expr = expr.replace("&&", " and ").replace("||", " or ").replace("!", " not ").replace("not =", "!=")
    try:
        return bool(eval(expr))
    except Exception:
        return False


def split_fields(body):
    """Splits an initializer's fields on commas outside parentheses."""
    fields, depth, cur = [], 0, ""
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            fields.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        fields.append(cur.strip())
    return fields


def duplicate_checking(text, func):
    """True when a custom setter's body returns "is duplicate" (nginx's own repeat check)."""
    m = re.search(r"\n(?:static )?char \*\n" + re.escape(func) + r"\(.*?\n}\n", text, re.S)
    return bool(m and '"is duplicate"' in m.group(0))


rows = []
for path in git("ls-tree", "-r", "--name-only", tag, "src").split():
    if not path.endswith(".c"):
        continue
    raw = git("show", f"{tag}:{path}")
    text = preprocess(re.sub(r"/\*.*?\*/", "", raw, flags=re.S))
    for mm in re.finditer(r"ngx_module_t\s+(ngx_\w+_module)\s*=\s*{\s*NGX_MODULE_V1,\s*&?\w+,\s*(\w+),\s*(NGX_\w+)", text):
        module, commands, mtype = mm.groups()
        if module not in MODULES or commands == "NULL":
            continue
        arr = re.search(r"static ngx_command_t\s+" + commands + r"\[\]\s*=\s*{(.*?)\n\s*ngx_null_command", text, re.S)
        for e in re.finditer(r'{\s*ngx_string\("([^"]+)"\),(.*?)}', arr.group(1), re.S):
            name = e.group(1)
            fields = split_fields(e.group(2))
            flags_expr, setter = fields[0], fields[1]
            post = fields[-1].lstrip("&").strip()
            flags = 0
            for tok in re.split(r"[|\s]+", flags_expr.strip()):
                if tok:
                    flags |= FLAG_BITS[tok]
            kind = SETTERS.get(setter)
            if kind is None:
                kind = "CustomDup" if duplicate_checking(raw, setter) else "Custom"
            values = []
            if kind in ("Enum", "Bitmask") and post != "NULL":
                vm = re.search(r"ngx_conf_(?:enum|bitmask)_t\s+" + post + r"\[\]\s*=\s*{(.*?)};", text, re.S)
                values = re.findall(r'ngx_string\("([^"]*)"\)', vm.group(1)) if vm else []
            rows.append((name, module, mtype, flags, kind, values))

mt = {"NGX_CORE_MODULE": "Core", "NGX_CONF_MODULE": "Conf", "NGX_EVENT_MODULE": "Event",
      "NGX_HTTP_MODULE": "Http"}
print("// @generated by tests/nginx/tools/gen_directives.py from nginx " + tag + " (Debian's build).")
print("// Do not edit by hand: regenerate. One row per ngx_command_t entry, in nginx's module order.")
print()
print("use super::{Cmd, ModuleType::*, Setter::*};")
print()
print("#[rustfmt::skip]")
print("pub(super) static COMMANDS: &[Cmd] = &[")
for name, module, mtype, flags, kind, values in rows:
    vals = ", ".join(f'"{v}"' for v in values)
    print(f'    Cmd {{ name: "{name}", module: {mt[mtype]}, flags: 0x{flags:08x}, setter: {kind}, values: &[{vals}] }},')
print("];")
