"""INFO: Redis 7.0's sections and fields, in its order (genRedisInfoString in server.c).

A field PulsarDS has a value for shows it (clients, keys, commands, errors, persistence,
evictions, used_memory as eviction.py counts the data, used_memory_rss as the process's
resident size); one about something PulsarDS does not have
(replicas, forks, jemalloc, I/O threads, defragmentation) shows the value Redis shows
when that thing is idle or absent, so that a tool reading INFO finds every field.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .commands import COMMANDS, Command
from .commands.connection import VERSION  # what HELLO says too
from .eviction import estimate
from .memory import STARTUP
from .observe import TOTAL

if TYPE_CHECKING:
    from .core import PulsarDS

__all__ = ["SECTIONS", "info_text"]

Fields = list[tuple[str, Any]]

# The sections of INFO with no argument (and of INFO default), in Redis's order.
DEFAULT_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
)
_NULL_REPLID = "0" * 40


def _human(size: int) -> str:
    """Redis's bytesToHuman: 919.19K, 6.59M, 0B."""
    for unit, scale in (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20)):
        if size >= scale:
            return f"{size / scale:.2f}{unit}"
    if size >= 1024:
        return f"{size / 1024:.2f}K"
    return f"{size}B"


def _rss() -> int:
    """The process's resident memory now (Linux), else its peak."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
    except ImportError:  # not on every platform
        return 0


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _cpu() -> tuple[float, float, float, float]:
    try:
        import resource
    except ImportError:
        return (0.0, 0.0, 0.0, 0.0)
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (mine.ru_stime, mine.ru_utime, children.ru_stime, children.ru_utime)


def _multiplexing() -> str:
    if sys.platform.startswith("linux"):
        return "epoll"
    if sys.platform == "darwin" or "bsd" in sys.platform:
        return "kqueue"
    return "select"


def _server(server: PulsarDS) -> Fields:
    config = server.config
    now = time.time()
    uptime = int(now - server.started)
    return [
        ("redis_version", VERSION.decode()),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0"),
        ("redis_mode", "standalone"),
        ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", _multiplexing()),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", server.run_id),
        ("tcp_port", server.port),
        ("server_time_usec", time.time_ns() // 1000),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", min(max(config.hz, 1), 500)),
        ("configured_hz", config.hz),
        ("lru_clock", int(now) & ((1 << 24) - 1)),
        ("executable", sys.executable),
        ("config_file", os.path.abspath(config.config_file) if config.config_file else ""),
        ("io_threads_active", 0),
    ]


def _clients(server: PulsarDS) -> Fields:
    clients = server.clients.values()
    return [
        ("connected_clients", len(server.clients)),
        ("cluster_connections", 0),
        ("maxclients", server.config.maxclients),
        ("client_recent_max_input_buffer", max((c.parser.buffered for c in clients), default=0)),
        ("client_recent_max_output_buffer", 0),
        ("blocked_clients", sum(1 for c in clients if c.blocked is not None)),
        ("tracking_clients", server.tracking.clients),
        ("clients_in_timeout_table", sum(1 for c in clients if c.blocked is not None)),
    ]


def _memory(server: PulsarDS) -> Fields:
    rss = _rss()
    total = _total_memory()
    config = server.config
    scripts = sum(len(body) for body in server.scripts.values())
    # used_memory: the data's memory as eviction.py counts it (kept while a limit is set,
    # else estimated from samples); the process's own size is used_memory_rss
    eviction = server.eviction
    used = eviction.figure() if server.memory_limit else estimate(server)
    peak = max(used, eviction.peak)
    eviction.peak = peak
    dataset = max(used - STARTUP, 0)
    return [
        ("used_memory", used),
        ("used_memory_human", _human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", _human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", _human(peak)),
        ("used_memory_peak_perc", f"{used * 100 / peak:.2f}%"),
        ("used_memory_overhead", STARTUP),
        ("used_memory_startup", STARTUP),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", f"{dataset * 100 / max(used - STARTUP, 1):.2f}%"),
        ("allocator_allocated", rss),
        ("allocator_active", rss),
        ("allocator_resident", rss),
        ("total_system_memory", total),
        ("total_system_memory_human", _human(total)),
        ("used_memory_lua", 32768),
        ("used_memory_vm_eval", 32768),
        ("used_memory_lua_human", "32.00K"),
        ("used_memory_scripts_eval", scripts),
        ("number_of_cached_scripts", len(server.scripts)),
        ("number_of_functions", 0),
        ("number_of_libraries", 0),
        ("used_memory_vm_functions", 32768),
        ("used_memory_vm_total", 65536),
        ("used_memory_vm_total_human", "64.00K"),
        ("used_memory_functions", 0),
        ("used_memory_scripts", scripts),
        ("used_memory_scripts_human", _human(scripts)),
        ("maxmemory", config.maxmemory),
        ("maxmemory_human", _human(config.maxmemory)),
        ("maxmemory_policy", config.maxmemory_policy),
        ("allocator_frag_ratio", "1.00"),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", "1.00"),
        ("allocator_rss_bytes", 0),
        ("rss_overhead_ratio", "1.00"),
        ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", "1.00"),
        ("mem_fragmentation_bytes", 0),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", sum(c.output_queued() for c in server.clients.values())),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def _persistence(server: PulsarDS) -> Fields:
    files = server.snapshots.info()
    rdb = [(name, value) for name, value in files.items() if name.startswith("rdb_")]
    aof = [(name, value) for name, value in files.items() if name.startswith("aof_")]
    aof_at = [name for name, _ in aof]
    aof.insert(aof_at.index("aof_rewrites") + 1, ("aof_rewrites_consecutive_failures", 0))
    return [
        ("loading", 0),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        *rdb,
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", 0),
        ("rdb_last_load_keys_loaded", 0),
        *aof,
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def _stats(server: PulsarDS) -> Fields:
    stats = server.stats
    pubsub = server.pubsub
    eviction = server.eviction
    exceeded = time.monotonic() - eviction.exceeded_since if eviction.exceeded_since else 0.0
    return [
        ("total_connections_received", stats.connections_received),
        # less this INFO, which Redis counts once it ran
        ("total_commands_processed", sum(c.calls for c in _unique_commands()) - 1),
        ("instantaneous_ops_per_sec", 0),
        ("total_net_input_bytes", 0),
        ("total_net_output_bytes", 0),
        ("total_net_repl_input_bytes", 0),
        ("total_net_repl_output_bytes", 0),
        ("instantaneous_input_kbps", "0.00"),
        ("instantaneous_output_kbps", "0.00"),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", stats.rejected_connections),
        ("sync_full", 0),
        ("sync_partial_ok", 0),
        ("sync_partial_err", 0),
        ("expired_keys", stats.expired_keys),
        ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", 0),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", stats.evicted_keys),
        ("evicted_clients", 0),
        ("total_eviction_exceeded_time", int((eviction.exceeded_total + exceeded) * 1000)),
        ("current_eviction_exceeded_time", int(exceeded * 1000)),
        ("keyspace_hits", 0),
        ("keyspace_misses", 0),
        ("pubsub_channels", len(pubsub.channels)),
        ("pubsub_patterns", len(pubsub.patterns)),
        ("pubsubshard_channels", len(pubsub.shard_channels)),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", len(server.tracking.table)),
        ("tracking_total_items", server.tracking.items),
        ("tracking_total_prefixes", len(server.tracking.prefixes)),
        ("unexpected_error_replies", 0),
        ("total_error_replies", stats.error_replies),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", 0),
        ("total_writes_processed", 0),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ]


def _replication(server: PulsarDS) -> Fields:
    return [
        ("role", "master"),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", hashlib.sha1(server.run_id.encode()).hexdigest()),
        ("master_replid2", _NULL_REPLID),
        ("master_repl_offset", 0),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", server.config.get_text("repl-backlog-size")),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


def _cpu_fields(server: PulsarDS) -> Fields:
    sys_time, user_time, child_sys, child_user = _cpu()
    return [
        ("used_cpu_sys", f"{sys_time:.6f}"),
        ("used_cpu_user", f"{user_time:.6f}"),
        ("used_cpu_sys_children", f"{child_sys:.6f}"),
        ("used_cpu_user_children", f"{child_user:.6f}"),
        ("used_cpu_sys_main_thread", f"{sys_time:.6f}"),
        ("used_cpu_user_main_thread", f"{user_time:.6f}"),
    ]


def _no_fields(server: PulsarDS) -> Fields:
    return []


def _unique_commands() -> list[Command]:
    """Each command once (COMMANDS holds two spellings of each name)."""
    return list({id(e): e for e in COMMANDS.values()}.values())


def _commandstats(server: PulsarDS) -> Fields:
    """cmdstat_<name> of every command called or refused, a container's per subcommand
    (cmdstat_config|get), with the time spent in it (PulsarDS.call times each)."""
    stats = server.stats
    calls: dict[str, int] = {}
    for entry in _unique_commands():
        if entry.subcommand_calls is not None:
            calls.update(entry.subcommand_calls)
        elif entry.calls:
            calls[entry.name] = entry.calls
    # this INFO is counted already; Redis counts a command once it ran
    if calls.get("info", 0) > 1:
        calls["info"] -= 1
    else:
        calls.pop("info", None)
    names = sorted({*calls, *stats.rejected_calls, *stats.failed_calls})
    usage = server.recorder.usage
    found: Fields = []
    for name in names:
        count = calls.get(name, 0)
        row = usage.get(name)
        usec = row[TOTAL] // 1000 if row is not None else 0
        found.append(
            (
                f"cmdstat_{name}",
                f"calls={count},usec={usec},usec_per_call={usec / count if count else 0:.2f},"
                f"rejected_calls={stats.rejected_calls.get(name, 0)},"
                f"failed_calls={stats.failed_calls.get(name, 0)}",
            )
        )
    return found


def _latencystats(server: PulsarDS) -> Fields:
    """latency_percentiles_usec_<command> of each command timed since the last reset
    (latency-tracking), at the percentiles of latency-tracking-info-percentiles; a
    percentile is the upper end of its power-of-two bucket, as Redis's HdrHistogram
    reports the highest value equivalent to it."""
    recorder = server.recorder
    if not recorder.tracking:
        return []
    text = server.config.get_text("latency-tracking-info-percentiles")
    percents = [float(word) for word in text.split()]
    found: Fields = []
    for name in sorted(recorder.usage):
        line = recorder.percentiles(name, percents)
        if line is not None:
            found.append((f"latency_percentiles_usec_{name}", line))
    return found


def _errorstats(server: PulsarDS) -> Fields:
    return [(f"errorstat_{code}", f"count={count}") for code, count in server.stats.errors.items()]


def _cluster(server: PulsarDS) -> Fields:
    return [("cluster_enabled", 0)]


def _pulsards(server: PulsarDS) -> Fields:
    """What PulsarDS counts that Redis 7.0's INFO has no field for: a section of its
    own, shown only when asked for by name (``INFO pulsards``), so that every other
    answer has exactly Redis's fields."""
    return [
        ("client_output_buffer_limit_disconnections", server.stats.output_buffer_kills),
        ("protocol_errors", server.stats.protocol_errors),
    ]


def _keyspace(server: PulsarDS) -> Fields:
    found: Fields = []
    now = time.time_ns() // 1_000_000
    for db in server.databases:
        if len(db):
            found.append(
                (
                    f"db{db.index}",
                    f"keys={len(db)},expires={len(db.expires)},avg_ttl={_avg_ttl(db.expires, now)}",
                )
            )
    return found


def _avg_ttl(expires: dict[bytes, int], now: int) -> int:
    """The mean time to live of a sample of the volatile keys, in ms (Redis estimates it
    from the keys its expiry cycle samples)."""
    total = count = 0
    for deadline in expires.values():
        total += max(0, deadline - now)
        count += 1
        if count == 20:
            break
    return total // count if count else 0


# (section name as INFO takes it, its title, its fields), in Redis's order
SECTIONS: tuple[tuple[str, str, Callable[[PulsarDS], Fields]], ...] = (
    ("server", "Server", _server),
    ("clients", "Clients", _clients),
    ("memory", "Memory", _memory),
    ("persistence", "Persistence", _persistence),
    ("stats", "Stats", _stats),
    ("replication", "Replication", _replication),
    ("cpu", "CPU", _cpu_fields),
    ("module_list", "Modules", _no_fields),
    ("commandstats", "Commandstats", _commandstats),
    ("errorstats", "Errorstats", _errorstats),
    ("latencystats", "Latencystats", _latencystats),
    ("cluster", "Cluster", _cluster),
    ("keyspace", "Keyspace", _keyspace),
)
# sections neither default, all nor everything include: only asked for by name
OWN_SECTIONS: tuple[tuple[str, str, Callable[[PulsarDS], Fields]], ...] = (
    ("pulsards", "Pulsards", _pulsards),
)


def info_text(server: PulsarDS, arguments: Iterable[bytes]) -> bytes:
    """The text of ``INFO [section ...]`` as Redis 7.0 builds it: no argument is
    ``default``; ``all`` is every section, ``everything`` too (PulsarDS has no module
    sections); names are case-insensitive, unknown ones are ignored."""
    wanted: set[str] = set()
    everything = False
    given = False
    for argument in arguments:
        given = True
        name = argument.decode("utf-8", "replace").lower()
        if name == "default":
            wanted.update(DEFAULT_SECTIONS)
        elif name in ("all", "everything"):
            everything = True
        else:
            wanted.add(name)
    if not given:
        wanted.update(DEFAULT_SECTIONS)
    if "modules" in wanted:
        wanted.add("module_list")
    parts: list[str] = []
    for name, title, fields in (*SECTIONS, *OWN_SECTIONS):
        if not ((everything and (name, title, fields) in SECTIONS) or name in wanted):
            continue
        lines = [f"# {title}"]
        lines.extend(f"{key}:{value}" for key, value in fields(server))
        parts.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(parts).encode()
