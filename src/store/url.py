"""Connection strings: parse, rebuild (``dns``) and mask secrets. No I/O.

``<scheme>://[user[:password]@]host[:port][/database][?k=v&...]``, ``rediss://`` for TLS and
``unix:///path/to.sock?db=N`` for unix sockets, and for a Redis Cluster
``redis+cluster://[user[:password]@]host[:port][,host[:port]...][?k=v&...]`` (its startup
nodes; ``rediss+cluster://`` for TLS), and for Redis Sentinel
``redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/service_name[/db][?k=v&...]``
(the sentinels, then the service they watch; ``rediss+sentinel://`` for TLS). Errors name
the bad part of the URL but never show a password (nor ``sentinel_password=``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .errors import ImproperlyConfigured, NoSuchStore

__all__ = [
    "CLUSTER_OPTIONS",
    "CLUSTER_SCHEMES",
    "OPTIONS",
    "SENTINEL_OPTIONS",
    "SENTINEL_SCHEMES",
    "Option",
    "OptionTable",
    "ParsedURL",
    "Target",
    "build_url",
    "coerce_option",
    "mask_url",
    "parse_hosts",
    "parse_url",
]

UNIX_SCHEMES = frozenset({"unix", "redis+unix"})
# several hosts, comma-separated: the startup nodes of a cluster
CLUSTER_SCHEMES = frozenset({"redis+cluster", "rediss+cluster"})
# several hosts too (the sentinels), and a path of /service_name[/db]
SENTINEL_SCHEMES = frozenset({"redis+sentinel", "rediss+sentinel"})
# query parameters holding a secret: masked as a URL's password is
SECRET_PARAMETERS = ("sentinel_password",)
_SECRET_QUERY = re.compile(
    r"([?&](?:" + "|".join(map(re.escape, SECRET_PARAMETERS)) + r")=)[^&#]*", re.IGNORECASE
)


@dataclass
class ParsedURL:
    scheme: str
    host: str | None  # None for unix sockets
    port: int | None
    path: str | None  # unix socket path
    database: str | None
    user: str | None
    password: str | None = field(repr=False)
    # sentinel schemes: the path's service name is here as "service_name" (a keyword
    # of the store, as the other query parameters)
    query: dict[str, str]
    # cluster and sentinel schemes: every (host, port or None) of the list, which ``host``
    # holds as written (the store parses it again with ``parse_hosts``); () for the others
    hosts: tuple[tuple[str, int | None], ...] = ()

    def __repr__(self) -> str:
        # the dataclass's, with the secret query parameters masked (the password has no repr)
        query = {k: "***" if k.lower() in SECRET_PARAMETERS else v for k, v in self.query.items()}
        return (
            f"ParsedURL(scheme={self.scheme!r}, host={self.host!r}, port={self.port!r}, "
            f"path={self.path!r}, database={self.database!r}, user={self.user!r}, "
            f"query={query!r}, hosts={self.hosts!r})"
        )


def _fail(url: str, what: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"invalid connection string {mask_url(url)!r}: {what}")


def parse_url(url: str) -> ParsedURL:
    """Split a connection string into its parts; the store class fills the defaults."""
    if not isinstance(url, str):
        raise ImproperlyConfigured(f"a connection string must be a str, not {type(url).__name__}")
    if "://" not in url:
        raise NoSuchStore(
            f"connection string {mask_url(url)!r} has no scheme: "
            "expected <scheme>://[user[:password]@]host[:port][/database]"
        )
    _, _, secret, broken = _credentials(url)
    if broken:
        raise _fail(
            url,
            "the user name or password contains '/', '?' or '#': percent-encode them "
            "(%2F, %3F, %23)",
        )
    problem = None
    lowered = url.partition("://")[0].lower()
    sentinel = lowered in SENTINEL_SCHEMES
    cluster = lowered in CLUSTER_SCHEMES or sentinel  # several hosts
    try:
        parts = urlsplit(url)
        port = None if cluster else parts.port  # a cluster's hosts are parsed below
    except ValueError as exc:
        # urllib's messages name the bad part ("Port could out of range", "Invalid IPv6 URL")
        problem = str(exc).lower()
    if problem is not None:  # raised here, so that urllib's exception is not its context
        if secret:  # some messages quote the whole netloc
            problem = re.sub(re.escape(secret), "***", problem, flags=re.IGNORECASE)
        raise _fail(url, problem)
    scheme = parts.scheme.lower()
    if not scheme:
        raise NoSuchStore(f"connection string {mask_url(url)!r} has no scheme")
    if parts.fragment:
        raise _fail(url, f"fragments are not supported (#{parts.fragment})")
    query: dict[str, str] = {}
    if parts.query:
        try:
            pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise _fail(url, f"malformed query {_mask_query('?' + parts.query)[1:]!r}") from None
        for key, value in pairs:
            if key in query:
                raise _fail(url, f"query parameter {key!r} is given twice")
            query[key] = value
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme in UNIX_SCHEMES:
        if parts.hostname:
            raise _fail(url, "a unix socket URL has no host: use unix:///path/to.sock")
        if not parts.path or parts.path == "/":
            raise _fail(url, "the unix socket path is missing")
        database = query.pop("db", None)
        if "database" in query:
            database = query.pop("database")
        return ParsedURL(scheme, None, None, unquote(parts.path), database, user, password, query)
    path = parts.path
    database = None
    if sentinel:
        service, _, path = path[1:].partition("/")
        if not service and path:
            raise _fail(url, "the service name is missing: .../service_name[/db]")
        if service:  # else a keyword may give it (the store says when none does)
            if "service_name" in query:
                raise _fail(url, "the service name is given both in the path and as ?service_name=")
            query["service_name"] = unquote(service)
        path = "/" + path
    if path and path != "/":
        database = unquote(path[1:])
        if "/" in database:
            raise _fail(url, f"the database {database!r} must be a single path segment")
    if "db" in query:
        if database is not None:
            raise _fail(url, "the database is given both in the path and as ?db=")
        database = query.pop("db")
    if cluster:
        hostlist = parts.netloc.rpartition("@")[2]
        try:
            hosts = parse_hosts(hostlist) if hostlist else ()
        except ImproperlyConfigured as exc:
            raise _fail(url, str(exc)) from None
        return ParsedURL(
            scheme, hostlist or None, None, None, database, user, password, query, hosts
        )
    return ParsedURL(scheme, parts.hostname, port, None, database, user, password, query)


def parse_hosts(hostlist: str) -> tuple[tuple[str, int | None], ...]:
    """``host[:port][,host[:port]...]`` (IPv6 in brackets) as ``(host, port or None)``
    pairs: a cluster URL's startup nodes."""
    hosts: list[tuple[str, int | None]] = []
    for item in hostlist.split(","):
        problem = None
        try:
            parts = urlsplit(f"//{item}")
            host, port = parts.hostname, parts.port
        except ValueError as exc:
            problem = f"host {item!r}: {str(exc).lower()}"
        if problem is not None:
            raise ImproperlyConfigured(problem)
        if not host or parts.path or parts.query or "@" in item:
            raise ImproperlyConfigured(f"host {item!r} in {hostlist!r} is not host[:port]")
        hosts.append((host, port))
    return tuple(hosts)


def _netloc(user: str | None, password: str | None, host: str) -> str:
    if user or password is not None:
        auth = quote(user or "", safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"{auth}@{host}"
    return host


def build_url(
    scheme: str,
    host: tuple[str, int] | str | list[tuple[str, int]],
    database: str | None,
    user: str | None,
    password: str | None,
    params: Mapping[str, Any],
    service: str | None = None,
) -> str:
    """Rebuild the connection string from effective values (the spec's ``dns``). ``host``
    is ``(host, port)``, a unix socket path, or a list of ``(host, port)`` (a cluster's,
    the sentinels'); ``service``: a sentinel URL's service name, the path's first part."""
    query = urlencode([(k, format_option(v)) for k, v in params.items()])
    if isinstance(host, str):  # unix socket path
        q = dict(db=database) if database is not None else {}
        query = "&".join(filter(None, (urlencode(q), query)))
        return f"{scheme}://{_netloc(user, password, '')}{quote(host)}" + (
            f"?{query}" if query else ""
        )
    addresses = host if isinstance(host, list) else [host]
    hostlist = ",".join(
        f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name, port in addresses
    )
    url = f"{scheme}://{_netloc(user, password, hostlist)}"
    if service is not None:
        url += "/" + quote(service, safe="")
    if database is not None and database != "":
        url += "/" + quote(str(database), safe="")
    return url + (f"?{query}" if query else "")


def _credentials(url: str) -> tuple[str, str, str, bool]:
    """Split ``url`` around its password: (before it, after it, the password, whether
    the password seems to hold an unescaped "/", "?" or "#"). The password is "" when
    there is none; before + ":***" + after is then the masked URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, "", "", False
    end = len(rest)
    for delimiter in "/?#":
        found = rest.find(delimiter)
        if 0 <= found < end:
            end = found
    netloc = rest[:end]
    broken = False
    if "@" in netloc:
        auth, host = netloc.rsplit("@", 1)
        tail = rest[end:]
    else:
        # No "@" before the first "/", "?" or "#": no credentials, unless the password
        # holds one of those characters unescaped (then the "host:port" is no such thing).
        user, colon, port = netloc.partition(":")
        if not colon or "@" not in rest[end:] or netloc.startswith("["):
            return url, "", "", False
        if user and port.isdigit():
            return url, "", "", False
        auth, host = rest.rsplit("@", 1)
        tail = ""
        broken = True
    user, colon, password = auth.partition(":")
    if not colon:
        return url, "", "", False
    return f"{scheme}://{user}", f"@{host}{tail}", password, broken


def mask_url(url: str) -> str:
    """The URL with its password (and ``sentinel_password=``) replaced by ``***`` (for
    repr, logs and errors)."""
    if "://" not in url:
        return url if "@" not in url else "***@" + url.rsplit("@", 1)[1]
    before, after, _, _ = _credentials(url)
    if not after:
        return _mask_query(url)
    return f"{before}:***{_mask_query(after)}"


def _mask_query(text: str) -> str:
    """``text`` with the values of the secret query parameters replaced by ``***``."""
    if "=" not in text:
        return text
    return _SECRET_QUERY.sub(r"\1***", text)


# -- typed options --------------------------------------------------------------------------


def format_option(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "none"
    return str(value)


def _seconds_or_none(name: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.lower() in ("", "none")):
        return None
    if isinstance(value, bool):
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(
            f"{name} must be a number of seconds or none, got {value!r}"
        ) from None
    if not seconds >= 0:  # also refuses nan
        raise ImproperlyConfigured(f"{name} must be >= 0, got {value!r}")
    return seconds


def _seconds(name: str, value: Any) -> float:
    seconds = _seconds_or_none(name, value)
    if seconds is None:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {value!r}")
    return seconds


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise ImproperlyConfigured(f"{name} must be >= 1, got {value!r}")
    return number


def _count(name: str, value: Any) -> int:
    if isinstance(value, str) and value.strip() == "0":
        return 0
    if value == 0 and not isinstance(value, bool):
        return 0
    return _positive_int(name, value)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def _choice(*choices: Any) -> Callable[[str, Any], Any]:
    def coerce(name: str, value: Any) -> Any:
        for choice in choices:
            if value == choice or str(value).lower() == str(choice):
                return choice
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}"
        )

    return coerce


def _text_or_none(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"{name} must be a string, got {type(value).__name__}")
    return value


def _client_name(name: str, value: Any) -> str | None:
    text = _text_or_none(name, value)
    if text is not None and (not text or any(c.isspace() for c in text)):
        # CLIENT SETNAME refuses spaces; fail here, not at the first connection
        raise ImproperlyConfigured(f"{name} must be a non-empty name without spaces")
    return text


def _cache_size(name: str, value: Any) -> bool | int:
    """client_cache: off (false), on (true: the default bound) or a number of entries."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE and not value.isdigit():
        return value.lower() in _TRUE
    if isinstance(value, str) and value.strip() == "0":
        return False
    try:
        return _positive_int(name, value)
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            f"{name} must be true, false or a number of entries, got {value!r}"
        ) from None


def _bytes_or_none(name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.lower() in ("", "none")):
        return None
    return _positive_int(name, value)


def _prefixes(name: str, value: Any) -> str:
    """Comma-separated key prefixes (a query string's form), or a list of them: kept
    comma-separated, as the connection string shows them."""
    if isinstance(value, str):
        items = [item for item in value.split(",") if item]
    elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        items = list(value)
    else:
        raise ImproperlyConfigured(f"{name} must be comma-separated prefixes, got {value!r}")
    if any("," in item for item in items):
        raise ImproperlyConfigured(f"{name}: a prefix cannot hold a comma")
    return ",".join(items)


# -- the option table ------------------------------------------------------------------------

# Where an option's value goes: a ConnectionSettings field ("connection"), a keyword of the
# connection pool ("pool"), of the seam's make_ssl_context ("tls"), or the store itself.
Target = Literal["connection", "pool", "tls", "store"]


@dataclass(frozen=True)
class Option:
    """A store option: its redis-py name, how a value from a query string or a keyword is
    checked and converted, its default, where it goes and under which name there."""

    name: str
    coerce: Callable[[str, Any], Any]  # (name, value) -> value, or ImproperlyConfigured
    default: Any
    target: Target
    doc: str
    parameter: str = ""  # its name at the target: the option's name when empty

    def __post_init__(self) -> None:
        if not self.parameter:
            object.__setattr__(self, "parameter", self.name)


class OptionTable(Mapping[str, Option]):
    """Options by name, in table order; what the stores derive from them."""

    def __init__(self, *options: Option) -> None:
        self._options = {option.name: option for option in options}
        if len(self._options) != len(options):
            raise ValueError("an option is in the table twice")
        self.defaults: Mapping[str, Any] = MappingProxyType(
            {option.name: option.default for option in options}
        )

    def __getitem__(self, name: str) -> Option:
        return self._options[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._options)

    def __len__(self) -> int:
        return len(self._options)

    def check_names(
        self, params: Mapping[str, Any], store: str, passed_through: Collection[str] = ()
    ) -> None:
        """Raise ImproperlyConfigured, listing the known names, when ``params`` holds names
        other than the options and those ``passed_through`` (kept as they are)."""
        unknown = [k for k in params if k not in self._options and k not in passed_through]
        if unknown:
            raise ImproperlyConfigured(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                f"for a {store} store; known options: "
                f"{', '.join(sorted(self._options) + sorted(passed_through))}"
            )

    def bound_for(self, target: Target) -> list[Option]:
        """The options going to ``target``, in table order."""
        return [option for option in self._options.values() if option.target == target]

    def arguments(self, values: Mapping[str, Any], target: Target) -> dict[str, Any]:
        """The keyword arguments of ``target`` (by its parameter names) from option
        ``values``, the defaults filling the options missing there."""
        return {
            option.parameter: values.get(option.name, option.default)
            for option in self.bound_for(target)
        }


# The options every remote store understands, by their redis-py names; values from the
# query string are strings and are converted here, keyword values are checked the same way.
OPTIONS = OptionTable(
    Option(
        "socket_timeout",
        _seconds_or_none,
        None,
        "connection",
        "seconds a command waits for its reply (blocking commands: plus their own timeout); "
        "none waits forever",
    ),
    Option(
        "socket_connect_timeout",
        _seconds_or_none,
        10.0,
        "connection",
        "seconds to open a connection and set it up; none waits forever",
        parameter="connect_timeout",
    ),
    Option(
        "socket_keepalive",
        _flag,
        True,
        "connection",
        "turn TCP keepalive on for the connections' sockets",
        parameter="keepalive",
    ),
    Option(
        "max_connections",
        _positive_int,
        50,
        "pool",
        "most connections the pool has open at once",
    ),
    Option(
        "pool_timeout",
        _seconds,
        20.0,
        "pool",
        "seconds to wait for a free connection when max_connections are in use",
        parameter="timeout",
    ),
    Option(
        "health_check_interval",
        _seconds,
        30.0,
        "connection",
        "seconds a connection may stay idle before it is PINGed on its next use; 0 never",
    ),
    Option(
        "protocol",
        _choice(3, 2),
        3,
        "connection",
        "RESP version: 3 (HELLO 3, RESP2 when the server lacks HELLO) or 2",
    ),
    Option(
        "decode_responses",
        _flag,
        False,
        "store",
        "decode replies to str with the store's encoding (the connections' encoding)",
    ),
    Option(
        "encoding_errors",
        _choice("strict", "replace", "ignore", "backslashreplace"),
        "strict",
        "connection",
        "how decode_responses treats bytes the encoding cannot decode",
    ),
    Option(
        "client_name",
        _client_name,
        None,
        "connection",
        "the name each new connection gives itself (CLIENT SETNAME)",
    ),
    Option(
        "parser",
        _choice("auto", "python", "hiredis"),
        "auto",
        "connection",
        "the reply parser: hiredis when installed (auto), python or hiredis",
    ),
    Option(
        "retries",
        _count,
        3,
        "pool",
        "times opening a connection is retried while the server cannot be reached",
    ),
    Option(
        "retry_backoff",
        _seconds,
        0.05,
        "pool",
        "seconds before the first retry, doubled for each next one (at most 1s)",
    ),
    Option("ssl", _flag, False, "store", "use TLS (rediss:// always does)"),
    Option(
        "ssl_ca_certs",
        _text_or_none,
        None,
        "tls",
        "file of the CA certificates that verify the server (default: the system's)",
        parameter="ca_certs",
    ),
    Option(
        "ssl_certfile",
        _text_or_none,
        None,
        "tls",
        "file of the client certificate",
        parameter="certfile",
    ),
    Option(
        "ssl_keyfile",
        _text_or_none,
        None,
        "tls",
        "file of the client certificate's private key (default: in ssl_certfile)",
        parameter="keyfile",
    ),
    Option(
        "ssl_cert_reqs",
        _choice("required", "optional", "none"),
        "required",
        "tls",
        "whether the server's certificate is verified: required, optional or none",
        parameter="cert_reqs",
    ),
    Option(
        "ssl_check_hostname",
        _flag,
        True,
        "tls",
        "check that the server's certificate names its host (not with ssl_cert_reqs=none)",
        parameter="check_hostname",
    ),
    Option(
        "auto_pipelining",
        _flag,
        True,
        "store",
        "concurrent plain commands share one connection (asyncio variant only)",
    ),
    Option(
        "client_cache",
        _cache_size,
        False,
        "store",
        "client-side caching of one-key reads: false, true (10000 entries) or most entries",
    ),
    Option(
        "client_cache_max_bytes",
        _bytes_or_none,
        None,
        "store",
        "most bytes the client-side cache holds (roughly: replies plus bookkeeping); none",
    ),
    Option(
        "client_cache_ttl",
        _seconds_or_none,
        None,
        "store",
        "seconds a client-side cache entry lives at most, invalidated or not; none",
    ),
    Option(
        "client_cache_bcast",
        _flag,
        False,
        "store",
        "track by broadcast (CLIENT TRACKING BCAST): every write of a prefix invalidates",
    ),
    Option(
        "client_cache_prefixes",
        _prefixes,
        "",
        "store",
        "key prefixes of client_cache_bcast, comma-separated (none: every key)",
    ),
)


# A cluster store's own options (``redis+cluster://``), on top of OPTIONS: a table of their
# own, so that a single-node store still refuses them as unknown.
CLUSTER_OPTIONS = OptionTable(
    Option(
        "read_from_replicas",
        _flag,
        False,
        "store",
        "let replicas serve reads (accepted; reads still go to the primaries for now)",
    ),
    Option(
        "cluster_refresh_interval",
        _seconds,
        1.0,
        "store",
        "least seconds between two topology refreshes (MOVED asks for one)",
    ),
)


# A sentinel store's own options (``redis+sentinel://``), on top of OPTIONS (those go to the
# connections to the primary and replicas, and, but for the credentials, to the sentinels'):
# a table of their own, as the cluster's, so that other stores refuse them as unknown.
SENTINEL_OPTIONS = OptionTable(
    Option(
        "service_name",
        _text_or_none,
        None,
        "store",
        "the service (the sentinels' name of the primary): the URL path's first part",
    ),
    Option(
        "sentinel_username",
        _text_or_none,
        None,
        "store",
        "the user name the sentinels' connections authenticate with (default: none)",
    ),
    Option(
        "sentinel_password",
        _text_or_none,
        None,
        "store",
        "the password of the sentinels' connections (their requirepass; masked as ***)",
    ),
    Option(
        "read_from_replicas",
        _flag,
        False,
        "store",
        "read-only commands go to the service's healthy replicas in turn (primary: fallback)",
    ),
)


def coerce_option(name: str, value: Any) -> Any:
    """Convert a typed option's value (from a query string or a keyword)."""
    return OPTIONS[name].coerce(name, value)
