#!/usr/bin/env python3
"""Deterministic test corpus for the backup benchmark.

    corpus.py generate --seed 42 --scale 1.0 OUT   # version 1: ~1.5 GB x scale, ~60,000 x scale files
    corpus.py edit     --seed 42 --scale 1.0 OUT   # turns version 1 into version 2 in place (~10% of bytes)

The tree looks like a small-office home folder: Documents, Mail, Desktop, Downloads,
projects/<name>/src/..., .config, logs, Photos, Videos, a VM disk image and a database
file. Everything is derived from the seed (random.Random), so two runs with the same
seed and scale produce byte-identical trees. No name matches the default exclusions
of a backup policy (*.tmp, ~$*, .cache, .Trash).

Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import os
import random
import shutil
import sys
import time

MiB = 1024 * 1024
KiB = 1024

# Fixed "now" for version 1 modification times: the corpus is identical on every run.
V1_NOW = 1767225600  # 2026-01-01T00:00:00Z

EXCLUDED = ("*.tmp", "~$*", ".cache", ".Trash")

# A small file at the top of the corpus saying which version it is (edited too).
VERSION_FILE = ".corpus-version"


def version_line(version: int, seed: int, scale: float) -> str:
    return f"backup benchmark corpus v{version} seed={seed} scale={scale}\n"


def check_name(rel: str) -> None:
    """Refuse names that a default backup policy would skip."""
    for part in rel.split("/"):
        for pat in EXCLUDED:
            if fnmatch.fnmatchcase(part, pat):
                raise SystemExit(f"corpus.py: internal error: excluded name {rel!r}")


# ---------------------------------------------------------------------------
# Vocabularies and line pools (built once from the seed).
# ---------------------------------------------------------------------------

KEYWORDS = {
    "rs": ["fn", "let", "mut", "pub", "impl", "struct", "enum", "match", "if", "else",
           "return", "use", "mod", "async", "await", "Self", "self", "Ok", "Err", "Some", "None"],
    "py": ["def", "class", "return", "if", "elif", "else", "for", "in", "import", "from",
           "with", "as", "self", "None", "True", "False", "yield", "raise", "try", "except"],
    "ts": ["const", "let", "function", "return", "if", "else", "export", "import", "from",
           "async", "await", "interface", "type", "new", "this", "null", "undefined"],
    "go": ["func", "return", "if", "else", "for", "range", "var", "type", "struct", "package",
           "import", "defer", "go", "chan", "nil", "err", "interface"],
    "c": ["int", "void", "char", "return", "if", "else", "for", "while", "static", "const",
          "struct", "unsigned", "size_t", "NULL", "sizeof", "switch", "case", "break"],
}

IDENT_PARTS = [
    "account", "invoice", "ledger", "customer", "order", "item", "price", "total", "tax",
    "report", "user", "session", "token", "config", "cache", "buffer", "index", "count",
    "value", "key", "name", "path", "file", "chunk", "block", "node", "tree", "list", "map",
    "queue", "worker", "task", "job", "event", "handler", "request", "response", "client",
    "server", "store", "record", "entry", "batch", "limit", "offset", "size", "len", "data",
    "payload", "status", "error", "result", "state", "context", "builder", "parser", "reader",
    "writer", "stream", "channel", "timer", "retry", "policy", "schedule", "backup", "restore",
    "snapshot", "region", "tenant", "company", "seat", "quota", "usage", "metric", "trace",
    "hash", "digest", "cipher", "nonce", "salt", "secret", "auth", "role", "group", "member",
]
TYPES = ["u64", "usize", "i32", "String", "Vec<u8>", "bool", "Option<String>", "&str",
         "HashMap<String, u64>", "Result<()>", "Duration", "PathBuf", "Bytes"]

WORDS = (
    "the of and to in is for on with as by that this be are from at or an will we our your "
    "please find attached invoice quarter report meeting client project budget schedule "
    "review update draft final revenue cost margin forecast contract agreement payment due "
    "account balance statement tax return audit office team staff hours week month year "
    "delivery order shipment supplier inventory price quote proposal signed approved pending "
    "thanks regards best kind let me know if you have any questions about next steps before "
    "friday monday tomorrow deadline summary notes action items follow up call agenda minutes "
    "policy procedure training safety compliance insurance claim renewal premium coverage "
    "backup server laptop printer network password access email calendar shared folder"
).split()
CAP_WORDS = ["Acme", "Northwind", "Contoso", "Fabrikam", "Granite", "Harbor", "Summit",
             "Maple", "Cedar", "Birch", "Keller", "Okafor", "Nguyen", "García", "Müller",
             "O'Brien", "Lindqvist", "Rossi", "Tanaka", "Kowalski", "Dubois", "Patel"]


def ident(rng: random.Random, parts: int | None = None) -> str:
    n = parts or rng.choice((1, 2, 2, 2, 3))
    return "_".join(rng.choice(IDENT_PARTS) for _ in range(n))


def camel(rng: random.Random) -> str:
    return "".join(rng.choice(IDENT_PARTS).capitalize() for _ in range(rng.choice((1, 2, 2, 3))))


def code_line(rng: random.Random, lang: str) -> str:
    kw = KEYWORDS[lang]
    ind = "    " * rng.choice((0, 1, 1, 1, 2, 2, 2, 3, 3, 4))
    a, b, c = ident(rng), ident(rng), ident(rng)
    k = rng.randrange(12)
    cm = "//" if lang not in ("py",) else "#"
    if k == 0:
        return f"{ind}{cm} {' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))}"
    if k == 1:
        return f"{ind}{rng.choice(kw)} {a} = {b}.{c}({ident(rng)}, {rng.randint(0, 4096)});"
    if k == 2:
        return f"{ind}{rng.choice(kw)} {a}({b}: {rng.choice(TYPES)}, {c}: {rng.choice(TYPES)}) {{"
    if k == 3:
        return f"{ind}if {a}.{b} > {rng.randint(0, 1000)} && !{c} {{"
    if k == 4:
        return f"{ind}}}"
    if k == 5:
        return f"{ind}{rng.choice(kw)} {camel(rng)}::{ident(rng)}(&{a}, \"{rng.choice(WORDS)} {rng.choice(WORDS)}\")"
    if k == 6:
        return f"{ind}{a}.push({camel(rng)} {{ {b}: {c}, {ident(rng)}: {rng.randint(0, 99)} }});"
    if k == 7:
        return ""
    if k == 8:
        return f"{ind}{rng.choice(kw)} {rng.choice(kw)} {a} {rng.choice(('=', '==', '!=', '+=', '<'))} {b}[{rng.randint(0, 64)}];"
    if k == 9:
        return f"{ind}{cm} TODO({rng.choice(IDENT_PARTS)}): {' '.join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))}"
    if k == 10:
        return f"{ind}return {camel(rng)}::new({a}, {b}.clone());"
    return f"{ind}{a}({b}, {c}, {rng.randint(0, 255):#04x});"


def sentence(rng: random.Random) -> str:
    n = rng.randint(5, 22)
    ws = [rng.choice(WORDS) if rng.random() > 0.08 else rng.choice(CAP_WORDS) for _ in range(n)]
    if rng.random() < 0.2:
        ws.insert(rng.randrange(n), f"{rng.randint(1, 99999)}")
    s = " ".join(ws)
    return s[0].upper() + s[1:] + rng.choice((".", ".", ".", "?", "!", ":"))


class Pools:
    def __init__(self, seed: int):
        rng = random.Random(f"pools-{seed}")
        self.code = {lang: [code_line(rng, lang) for _ in range(5000)] for lang in KEYWORDS}
        self.sentences = [sentence(rng) for _ in range(8000)]
        self.log_msgs = []
        for _ in range(4000):
            k = rng.randrange(6)
            if k == 0:
                m = f"GET /api/v1/{rng.choice(IDENT_PARTS)}/{rng.randint(1, 99999)} {rng.choice((200, 200, 200, 201, 204, 304, 404, 500))} {rng.randint(1, 900)}ms"
            elif k == 1:
                m = f"{ident(rng)} completed: {rng.randint(0, 5000)} {rng.choice(IDENT_PARTS)}s in {rng.random() * 10:.3f}s"
            elif k == 2:
                m = f"connection from 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}:{rng.randint(1024, 65535)} accepted"
            elif k == 3:
                m = f"retrying {ident(rng)} (attempt {rng.randint(1, 5)}/5): {' '.join(rng.choice(WORDS) for _ in range(4))}"
            elif k == 4:
                m = f"user={rng.choice(CAP_WORDS).lower()}{rng.randint(1, 99)} action={ident(rng)} id={rng.getrandbits(48):012x}"
            else:
                m = f"{camel(rng)}: {sentence(rng)}"
            self.log_msgs.append(m)
        self.csv_rows = [
            f"{rng.randint(1000, 99999)},{rng.choice(CAP_WORDS)},{rng.choice(IDENT_PARTS)},"
            f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/20{rng.randint(19, 25)},"
            f"{rng.randint(1, 99999) / 100:.2f},{rng.choice(('paid', 'open', 'overdue', 'void'))}"
            for _ in range(6000)
        ]
        self.records = [
            f"{rng.getrandbits(32):08x}|{rng.choice(CAP_WORDS)}|{ident(rng)}|{rng.randint(0, 10**7)}|"
            f"20{rng.randint(19, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}|"
            f"{rng.choice(WORDS)} {rng.choice(WORDS)}\n".encode()
            for _ in range(8000)
        ]


# ---------------------------------------------------------------------------
# Content generators: each takes its own Random and a target size.
# ---------------------------------------------------------------------------


def gen_code(rng: random.Random, pools: Pools, lang: str, size: int) -> bytes:
    pool = pools.code[lang]
    header = (
        f"// Copyright {rng.randint(2015, 2025)} {rng.choice(CAP_WORDS)} Ltd. All rights reserved.\n"
        f"// {sentence(rng)}\n\n"
    )
    if lang == "py":
        header = header.replace("//", "#")
    n = max(1, size // 38)
    body = "\n".join(rng.choices(pool, k=n))
    return (header + body + "\n").encode()[: max(size, 64)]


def gen_prose(rng: random.Random, pools: Pools, size: int, md: bool = False) -> bytes:
    out = []
    total = 0
    while total < size:
        k = rng.randint(2, 7)
        para = " ".join(rng.choices(pools.sentences, k=k))
        if md and rng.random() < 0.15:
            para = "## " + rng.choice(pools.sentences)[:60] + "\n\n" + para
        out.append(para)
        total += len(para) + 2
    return "\n\n".join(out).encode()[:size] + b"\n"


def gen_csv(rng: random.Random, pools: Pools, size: int) -> bytes:
    n = max(1, size // 48)
    return ("id,customer,category,date,amount,status\n" + "\n".join(rng.choices(pools.csv_rows, k=n)) + "\n").encode()


def gen_config(rng: random.Random, pools: Pools, ext: str, size: int) -> bytes:
    lines = []
    total = 0
    section = 0
    while total < size:
        if ext in ("ini", "conf", "toml") and (section == 0 or rng.random() < 0.08):
            line = f"\n[{ident(rng)}]"
            section += 1
        elif ext == "json":
            line = f'  "{ident(rng)}": {rng.choice((str(rng.randint(0, 9999)), "true", "false", chr(34) + rng.choice(WORDS) + chr(34)))},'
        elif ext in ("yaml", "yml"):
            line = f"{'  ' * rng.randint(0, 3)}{ident(rng)}: {rng.choice((str(rng.randint(0, 9999)), 'true', rng.choice(WORDS)))}"
        else:
            line = f"{ident(rng)} = {rng.choice((str(rng.randint(0, 9999)), 'true', 'false', chr(34) + '/srv/' + ident(rng) + chr(34)))}"
        lines.append(line)
        total += len(line) + 1
    text = "\n".join(lines) + "\n"
    if ext == "json":
        text = "{\n" + text.rstrip(",\n") + "\n}\n"
    return text.encode()


def gen_mail(rng: random.Random, pools: Pools, size: int) -> bytes:
    a, b = rng.choice(CAP_WORDS).lower(), rng.choice(CAP_WORDS).lower()
    head = (
        f"From: {a}@{rng.choice(IDENT_PARTS)}.example\r\nTo: {b}@{rng.choice(IDENT_PARTS)}.example\r\n"
        f"Subject: {rng.choice(pools.sentences)[:70]}\r\n"
        f"Date: {rng.choice(('Mon', 'Tue', 'Wed', 'Thu', 'Fri'))}, {rng.randint(1, 28)} "
        f"{rng.choice(('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'))} "
        f"20{rng.randint(20, 25)} {rng.randint(7, 19):02d}:{rng.randint(0, 59):02d}:00 +0000\r\n"
        f"Message-ID: <{rng.getrandbits(64):016x}@mail.example>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    body = gen_prose(rng, pools, max(200, size - len(head)))
    if rng.random() < 0.25 and size > 8 * KiB:
        # A small base64 attachment: incompressible-ish text.
        import base64

        att = base64.encodebytes(rng.randbytes(size // 3))
        body = body[: size // 2] + b"\r\n--attachment--\r\n" + att
    return head + body


MAGIC = {
    "docx": b"PK\x03\x04\x14\x00\x06\x00", "xlsx": b"PK\x03\x04\x14\x00\x06\x00",
    "pptx": b"PK\x03\x04\x14\x00\x06\x00", "odt": b"PK\x03\x04\x14\x00\x00\x08",
    "zip": b"PK\x03\x04\x14\x00\x00\x00", "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "png": b"\x89PNG\r\n\x1a\n",
    "mp4": b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mov": b"\x00\x00\x00\x14ftypqt  ",
    "heic": b"\x00\x00\x00\x18ftypheic",
}


def gen_binary(rng: random.Random, ext: str, size: int) -> bytes:
    magic = MAGIC.get(ext, b"")
    return magic + rng.randbytes(max(0, size - len(magic)))


def gen_log_lines(rng: random.Random, pools: Pools, service: str, day: str, size: int, start_sec: int = 0) -> bytes:
    out = []
    total = 0
    sec = start_sec
    ms = rng.randrange(1000)
    pid = rng.randint(200, 65000)
    msgs = pools.log_msgs
    levels = ("INFO",) * 14 + ("DEBUG",) * 4 + ("WARN",) * 2 + ("ERROR",)
    while total < size:
        sec += rng.choice((0, 0, 0, 1, 1, 2, 5))
        ms = (ms + rng.randrange(997)) % 1000
        s = sec % 86400
        line = (
            f"{day}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{ms:03d}Z "
            f"{rng.choice(levels)} {service}[{pid}]: {rng.choice(msgs)}"
        )
        out.append(line)
        total += len(line) + 1
    return ("\n".join(out) + "\n").encode()


def write_large(path: str, rng: random.Random, pools: Pools, size: int, kind: str) -> None:
    """A VM disk image or a database file, written in 1 MiB blocks: partly zero,
    partly repeated, partly structured records, partly random."""
    block = MiB
    base_blocks = [rng.randbytes(block) for _ in range(6)]
    zero = bytes(block)
    with open(path, "wb") as f:
        if kind == "vm":
            f.write(b"QFI\xfb\x00\x00\x00\x03" + bytes(block - 8))
        else:
            f.write(b"SQLite format 3\x00" + bytes(block - 16))
        written = block
        while written < size:
            n = min(block, size - written)
            r = rng.random()
            if kind == "vm":
                if r < 0.30:
                    data = zero
                elif r < 0.50:
                    data = rng.choice(base_blocks)  # the same libraries in many places
                elif r < 0.72:
                    data = b"".join(
                        s.encode() + b"\n" for s in rng.choices(pools.code[rng.choice(list(KEYWORDS))], k=block // 37)
                    )
                else:
                    data = rng.randbytes(block)
            else:
                if r < 0.15:
                    data = zero  # free pages
                elif r < 0.65:
                    data = b"".join(rng.choices(pools.records, k=block // 60))
                else:
                    data = rng.randbytes(block)  # blobs
            if len(data) < n:
                data = data + zero[: n - len(data)]
            f.write(data[:n])
            written += n


# ---------------------------------------------------------------------------
# The plan of version 1.
# ---------------------------------------------------------------------------

PROJECT_NAMES = ["ledger", "invoicer", "payroll-sync", "crm-web", "intranet", "timesheets",
                 "pos-terminal", "inventory-api", "mailer", "analytics", "hr-portal", "booking",
                 "warehouse", "scanner", "docgen", "billing", "customer-app", "site", "reports",
                 "etl-jobs", "auth-gateway", "mobile-app", "kiosk", "label-printer", "backup-tools"]
LANG_EXT = {"rs": "rs", "py": "py", "ts": "ts", "go": "go", "c": "c"}
DOC_DIRS = ["Finance", "Finance/Invoices", "Finance/Receipts", "HR", "HR/Policies", "Contracts",
            "Clients", "Marketing", "Reports", "Templates", "Board", "Projects", "Suppliers",
            "Insurance", "Tax", "Legal", "Operations", "Training"]
DOC_EXT = ["docx"] * 6 + ["xlsx"] * 4 + ["pdf"] * 5 + ["pptx"] * 1 + ["odt"] * 1 + ["txt"] * 3 + \
    ["md"] * 2 + ["csv"] * 3
CONFIG_EXT = ["conf", "ini", "json", "yaml", "toml", "cfg"]
SERVICES = ["nginx", "postgres", "app", "worker", "cron", "auth", "mailer", "backup", "sync", "vpn"]


def log_uniform(rng: random.Random, lo: int, hi: int, skew: float = 1.0) -> int:
    return int(lo * (hi / lo) ** (rng.random() ** skew))


def doc_name(rng: random.Random, ext: str) -> str:
    stem = rng.choice((
        lambda: f"{rng.choice(CAP_WORDS)} {rng.choice(IDENT_PARTS)} {rng.choice(('Q1', 'Q2', 'Q3', 'Q4', '2023', '2024', '2025'))}",
        lambda: f"{rng.choice(IDENT_PARTS).capitalize()}_{rng.choice(IDENT_PARTS)}_{rng.randint(1, 999):03d}",
        lambda: f"{rng.choice(('Invoice', 'Quote', 'Minutes', 'Report', 'Letter', 'Memo', 'Budget', 'Plan'))}-{rng.randint(1000, 99999)}",
        lambda: f"{rng.choice(CAP_WORDS)} - {rng.choice(WORDS)} {rng.choice(WORDS)} (v{rng.randint(1, 9)})",
    ))()
    return f"{stem}.{ext}"


class Plan:
    """The list of version-1 files: (relative path, kind, size, extra, seed)."""

    def __init__(self, seed: int, scale: float):
        rng = random.Random(seed)
        self.entries: list[tuple[str, str, int, str, int]] = []
        self.dirs: list[str] = []
        used: set[str] = set()

        def add(rel: str, kind: str, size: int, extra: str = "") -> None:
            base, dot, ext = rel.rpartition(".")
            k = 2
            while rel in used:
                rel = f"{base} ({k}).{ext}" if dot else f"{rel}-{k}"
                k += 1
            used.add(rel)
            check_name(rel)
            self.entries.append((rel, kind, size, extra, rng.getrandbits(64)))

        def count(n: float) -> int:
            return max(1, round(n * scale))

        # Source projects: ~26,000 files, ~6 KB each.
        n_src = count(26000)
        n_proj = max(1, min(len(PROJECT_NAMES), round(25 * math.sqrt(scale))))
        per_proj = max(1, n_src // n_proj)
        for p in range(n_proj):
            proj = PROJECT_NAMES[p]
            lang = rng.choice(list(LANG_EXT))
            ext = LANG_EXT[lang]
            root = f"projects/{proj}"
            add(f"{root}/README.md", "prose_md", log_uniform(rng, 800, 12000))
            add(f"{root}/.gitignore", "config", 120, "txt")
            add(f"{root}/.editorconfig", "config", 200, "ini")
            mods = [ident(rng, 1) for _ in range(rng.randint(4, 10))]
            for i in range(per_proj):
                r = rng.random()
                if r < 0.80:
                    depth = rng.choice((0, 1, 1, 2))
                    sub = "/".join([rng.choice(mods)] + [ident(rng, 1) for _ in range(depth)])
                    add(f"{root}/src/{sub}/{ident(rng)}.{ext}", "code", log_uniform(rng, 400, 36000, 1.4), lang)
                elif r < 0.93:
                    add(f"{root}/tests/test_{ident(rng)}.{ext}", "code", log_uniform(rng, 600, 30000, 1.3), lang)
                elif r < 0.97:
                    add(f"{root}/docs/{ident(rng)}.md", "prose_md", log_uniform(rng, 500, 20000))
                else:
                    add(f"{root}/config/{ident(rng)}.{rng.choice(CONFIG_EXT)}", "config", log_uniform(rng, 200, 8000), "")
            self.dirs.append(f"{root}/target")  # an empty build folder

        # Office documents: ~20,000 files of 1-64 KiB (Documents, Desktop, Downloads).
        n_docs = count(20000)
        clients = [f"{rng.choice(CAP_WORDS)} {rng.choice(('GmbH', 'Ltd', 'LLC', 'Inc', 'SARL', '& Sons'))}" for _ in range(40)]
        for i in range(n_docs):
            ext = rng.choice(DOC_EXT)
            r = rng.random()
            if r < 0.80:
                d = rng.choice(DOC_DIRS)
                if d == "Clients":
                    d = f"Clients/{rng.choice(clients)}"
                elif rng.random() < 0.5:
                    d = f"{d}/{rng.choice(('2022', '2023', '2024', '2025'))}"
                top = "Documents"
            elif r < 0.90:
                top, d = "Desktop", rng.choice(("", "", "Scans", "To sort"))
            else:
                top, d = "Downloads", ""
            folder = f"{top}/{d}".rstrip("/")
            size = log_uniform(rng, 1 * KiB, 64 * KiB, 1.25)
            kind = {"txt": "prose", "md": "prose_md", "csv": "csv"}.get(ext, "binary")
            add(f"{folder}/{doc_name(rng, ext)}", kind, size, ext)

        # Mail: ~9,000 .eml files.
        for i in range(count(9000)):
            folder = rng.choice(("Inbox", "Inbox", "Sent", "Archive/2023", "Archive/2024", "Archive/2025", "Clients", "Suppliers"))
            add(f"Mail/{folder}/{rng.getrandbits(40):010x}.eml", "mail", log_uniform(rng, 1500, 60000, 1.5))

        # Configuration: ~2,500 files.
        apps = ["editor", "terminal", "vpn", "mail-client", "office", "git", "ssh-tools", "printer", "sync", "chat"]
        for i in range(count(2500)):
            ext = rng.choice(CONFIG_EXT)
            add(f".config/{rng.choice(apps)}/{ident(rng)}.{ext}", "config", log_uniform(rng, 1 * KiB, 64 * KiB, 2.2), ext)

        # Logs: ~700 files, ~170 KB each, very compressible.
        n_logs = count(700)
        for i in range(n_logs):
            svc = SERVICES[i % len(SERVICES)]
            day_n = i // len(SERVICES)
            y, rest = divmod(day_n, 336)
            day = f"{2025 - y}-{12 - rest // 28:02d}-{28 - rest % 28:02d}"
            add(f"logs/{svc}/{svc}-{day}.log", "log", log_uniform(rng, 20 * KiB, 700 * KiB, 1.1), f"{svc}|{day}")

        # Media: ~330 MB of already-compressed photos and videos.
        budget = int(330 * MiB * scale)
        photo_budget = budget * 6 // 10
        while photo_budget > 0:
            size = min(photo_budget, rng.randint(1 * MiB, 6 * MiB))
            y = rng.choice(("2022", "2023", "2024", "2025"))
            event = rng.choice(("Summer party", "Office move", "Trade fair", "Team day", "Site visit", "Product shots", "Christmas"))
            add(f"Photos/{y}/{y}-{rng.randint(1, 12):02d} {event}/IMG_{rng.randint(1000, 9999)}.jpg", "binary", size, "jpg")
            photo_budget -= size
        video_budget = budget - budget * 6 // 10
        while video_budget > 0:
            size = min(video_budget, rng.randint(5 * MiB, 20 * MiB))
            add(f"Videos/{rng.choice(('2023', '2024', '2025'))}/VID_{rng.randint(10000000, 99999999)}.mp4", "binary", size, "mp4")
            video_budget -= size

        # Two large files: a VM disk image and a database.
        add("VMs/dev-workstation.qcow2", "large", int(300 * MiB * scale), "vm")
        add("Databases/inventory.sqlite", "large", int(200 * MiB * scale), "db")

        self.dirs += ["Documents/Scans/empty", "Desktop/To sort/nothing yet"]


def write_entry(out: str, pools: Pools, rel: str, kind: str, size: int, extra: str, seed: int) -> int:
    rng = random.Random(seed)
    path = os.path.join(out, rel)
    if kind == "large":
        write_large(path, rng, pools, size, extra)
        return size
    if kind == "code":
        data = gen_code(rng, pools, extra, size)
    elif kind == "prose":
        data = gen_prose(rng, pools, size)
    elif kind == "prose_md":
        data = gen_prose(rng, pools, size, md=True)
    elif kind == "csv":
        data = gen_csv(rng, pools, size)
    elif kind == "config":
        data = gen_config(rng, pools, extra or rel.rpartition(".")[2], size)
    elif kind == "mail":
        data = gen_mail(rng, pools, size)
    elif kind == "log":
        svc, day = extra.split("|")
        data = gen_log_lines(rng, pools, svc, day, size)
    elif kind == "binary":
        data = gen_binary(rng, extra, size)
    else:
        raise ValueError(kind)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def generate(seed: int, scale: float, out: str) -> None:
    t0 = time.monotonic()
    if os.path.exists(out) and os.listdir(out):
        raise SystemExit(f"corpus.py: {out} exists and is not empty")
    plan = Plan(seed, scale)
    pools = Pools(seed)
    mrng = random.Random(seed + 1)
    made: set[str] = set()
    total = 0
    for rel, kind, size, extra, fseed in plan.entries:
        d = os.path.dirname(os.path.join(out, rel))
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        total += write_entry(out, pools, rel, kind, size, extra, fseed)
        mt = V1_NOW - mrng.randrange(3 * 365 * 86400)
        os.utime(os.path.join(out, rel), (mt, mt))
    for d in plan.dirs:
        os.makedirs(os.path.join(out, d), exist_ok=True)
    with open(os.path.join(out, VERSION_FILE), "w") as f:
        f.write(version_line(1, seed, scale))
    os.utime(os.path.join(out, VERSION_FILE), (V1_NOW, V1_NOW))
    total += len(version_line(1, seed, scale))
    print(f"corpus v1: {len(plan.entries) + 1} files, {total} bytes ({total / MiB:.1f} MiB) in {out} "
          f"[seed {seed}, scale {scale}, {time.monotonic() - t0:.1f}s]")


# ---------------------------------------------------------------------------
# Version 2: edits in place.
# ---------------------------------------------------------------------------


def list_files(root: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            out.append(os.path.relpath(os.path.join(dirpath, fn), root))
    out.sort()
    return out


def apply_ops(path: str, ops: list[tuple[int, str, object]]) -> int:
    """Rewrites `path` with ops on its original offsets: ("ins", off, bytes),
    ("del", off, length), ("ovr", off, bytes). Overlapping ops are skipped.
    Returns the number of bytes inserted, deleted or overwritten."""
    size = os.path.getsize(path)
    tmp = path + ".edit-partial"
    changed = 0
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        pos = 0

        def copy_to(end: int) -> None:
            nonlocal pos
            while pos < end:
                buf = src.read(min(8 * MiB, end - pos))
                if not buf:
                    break
                dst.write(buf)
                pos += len(buf)

        for off, kind, arg in sorted(ops, key=lambda o: o[0]):
            if off < pos or off > size:
                continue
            copy_to(off)
            if kind == "ins":
                dst.write(arg)  # type: ignore[arg-type]
                changed += len(arg)  # type: ignore[arg-type]
            elif kind == "del":
                n = min(int(arg), size - pos)  # type: ignore[arg-type]
                src.seek(pos + n)
                pos += n
                changed += n
            elif kind == "ovr":
                n = min(len(arg), size - pos)  # type: ignore[arg-type]
                dst.write(arg[:n])  # type: ignore[index]
                src.seek(pos + n)
                pos += n
                changed += n
        copy_to(size)
    os.replace(tmp, path)
    return changed


def edit(seed: int, scale: float, out: str) -> None:
    t0 = time.monotonic()
    rng = random.Random(seed * 1000003 + 7)
    pools = Pools(seed)
    files = list_files(out)
    if not files:
        raise SystemExit(f"corpus.py: {out} holds no files")
    if any(f.endswith(".edit-partial") for f in files):
        raise SystemExit(f"corpus.py: {out} holds a half-done edit")
    try:
        with open(os.path.join(out, VERSION_FILE)) as f:
            version = f.read()
    except FileNotFoundError:
        raise SystemExit(f"corpus.py: {out} has no {VERSION_FILE}: not made by corpus.py generate")
    if version != version_line(1, seed, scale):
        raise SystemExit(f"corpus.py: {out} is not version 1 with seed {seed} and scale {scale}: {version.strip()}")
    total_before = sum(os.path.getsize(os.path.join(out, f)) for f in files)

    stats = {"modified": 0, "new": 0, "deleted": 0, "renamed": 0}
    changed = 0
    deleted_bytes = 0
    P = lambda rel: os.path.join(out, rel)  # noqa: E731

    def new_file(rel: str, data: bytes) -> None:
        nonlocal changed
        check_name(rel)
        path = P(rel)
        if os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        stats["new"] += 1
        changed += len(data)

    def delete(rel: str) -> None:
        nonlocal deleted_bytes
        path = P(rel)
        if os.path.exists(path):
            deleted_bytes += os.path.getsize(path)
            os.remove(path)
            stats["deleted"] += 1

    def rename(rel: str, new_rel: str) -> None:
        check_name(new_rel)
        if os.path.exists(P(new_rel)) or not os.path.exists(P(rel)):
            return
        os.makedirs(os.path.dirname(P(new_rel)), exist_ok=True)
        os.rename(P(rel), P(new_rel))
        stats["renamed"] += 1

    by_top: dict[str, list[str]] = {}
    for f in files:
        top = f.split("/", 1)[0]
        by_top.setdefault(top, []).append(f)

    # 1. Large files: scattered overwrites, inserts and deletes in the middle.
    for rel in ("VMs/dev-workstation.qcow2", "Databases/inventory.sqlite"):
        if not os.path.exists(P(rel)):
            continue
        size = os.path.getsize(P(rel))
        ops: list[tuple[int, str, object]] = []
        if rel.startswith("VMs"):
            for _ in range(10):
                n = max(4096, int(size * rng.uniform(0.002, 0.013)))
                ops.append((rng.randrange(MiB, size - n), "ovr", rng.randbytes(n)))
            for _ in range(2):
                ops.append((rng.randrange(MiB, size), "ins", rng.randbytes(max(4096, int(size * rng.uniform(0.003, 0.01))))))
            ops.append((rng.randrange(MiB, size), "del", max(4096, int(size * rng.uniform(0.003, 0.01)))))
        else:
            pages = max(4, int(250 * size / (200 * MiB)))
            for _ in range(pages):
                n = rng.choice((4, 8, 16, 32, 64)) * KiB
                off = rng.randrange(MiB // 4096, max(MiB // 4096 + 1, (size - n) // 4096)) * 4096
                ops.append((off, "ovr", b"".join(rng.choices(pools.records, k=n // 50))[:n]))
            ops.append((rng.randrange(MiB, size), "ins", b"".join(rng.choices(pools.records, k=max(1, int(size * 0.02) // 50)))))
            ops.append((rng.randrange(MiB, size), "del", max(4096, int(size * 0.01))))
            ops.append((size, "ins", rng.randbytes(max(4096, int(size * 0.02)))))  # appended blobs
        changed += apply_ops(P(rel), ops)
        stats["modified"] += 1

    # 2. Media: a few new, a few deleted, one year of photos moved to an archive.
    media = by_top.get("Photos", []) + by_top.get("Videos", [])
    for rel in rng.sample(media, k=min(len(media) // 15, len(media))):
        delete(rel)
    n_new = max(1, round(4 * scale)) if scale >= 0.25 else 1
    for i in range(n_new):
        sz = int(rng.randint(5 * MiB, 15 * MiB) * min(1.0, scale * 4))
        new_file(f"Videos/2026/VID_2026{rng.randint(1000, 9999)}_{i}.mp4", gen_binary(rng, "mp4", sz))
    for i in range(max(1, round(8 * scale))):
        sz = int(rng.randint(1 * MiB, 5 * MiB) * min(1.0, scale * 4))
        new_file(f"Photos/2026/2026-01 New year/IMG_{rng.randint(1000, 9999)}.jpg", gen_binary(rng, "jpg", sz))
    year = rng.choice(("2022", "2023"))
    if os.path.isdir(P(f"Photos/{year}")):
        n = sum(len(fs) for _, _, fs in os.walk(P(f"Photos/{year}")))
        os.makedirs(P("Photos/Archive"), exist_ok=True)
        os.rename(P(f"Photos/{year}"), P(f"Photos/Archive/{year}"))
        stats["renamed"] += n

    # 3. Logs: lines appended to most, a rotated old one deleted here and there, new days.
    logs = [f for f in by_top.get("logs", []) if os.path.exists(P(f))]
    for rel in logs:
        r = rng.random()
        if r < 0.08:
            delete(rel)
        elif r < 0.65:
            svc = rel.split("/")[1]
            day = rel.rsplit("-", 3)[-3:]
            add = gen_log_lines(rng, pools, svc, "-".join(day)[:-4], int(os.path.getsize(P(rel)) * rng.uniform(0.05, 0.3)), 80000)
            with open(P(rel), "ab") as f:
                f.write(add)
            changed += len(add)
            stats["modified"] += 1
    for svc in SERVICES:
        for d in range(max(1, round(3 * scale))):
            day = f"2026-01-{d + 1:02d}"
            new_file(f"logs/{svc}/{svc}-{day}.log", gen_log_lines(rng, pools, svc, day, rng.randint(20 * KiB, 600 * KiB)))

    # 4. Source: edited files (lines inserted and deleted in the middle), new, deleted,
    #    a module renamed, a whole project moved to projects/archived.
    src = [f for f in by_top.get("projects", []) if os.path.exists(P(f))]
    projects = sorted({f.split("/")[1] for f in src})
    moved_proj = rng.choice(projects) if len(projects) > 1 else None
    for rel in src:
        if moved_proj and rel.split("/")[1] == moved_proj:
            continue
        ext = rel.rpartition(".")[2]
        lang = next((k for k, v in LANG_EXT.items() if v == ext), None)
        r = rng.random()
        if r < 0.08 and lang:
            with open(P(rel), "rb") as f:
                lines = f.read().split(b"\n")
            before = sum(len(x) + 1 for x in lines)
            at = rng.randrange(len(lines))
            n_del = rng.randint(0, min(30, len(lines) - at))
            removed = sum(len(x) + 1 for x in lines[at:at + n_del])
            ins = [s.encode() for s in rng.choices(pools.code[lang], k=rng.randint(1, 60))]
            lines[at:at + n_del] = ins
            data = b"\n".join(lines)
            with open(P(rel), "wb") as f:
                f.write(data)
            changed += removed + sum(len(x) + 1 for x in ins)
            _ = before
            stats["modified"] += 1
        elif r < 0.095:
            delete(rel)
    for p in projects:
        lang_files = [f for f in src if f.split("/")[1] == p and "/src/" in f]
        if not lang_files:
            continue
        ext = lang_files[0].rpartition(".")[2]
        lang = next((k for k, v in LANG_EXT.items() if v == ext), "rs")
        n = max(1, int(len(lang_files) * 0.02))
        for i in range(n):
            d = os.path.dirname(rng.choice(lang_files))
            new_file(f"{d}/{ident(rng)}_{i}_new.{ext}", gen_code(rng, pools, lang, log_uniform(rng, 400, 30000, 1.3)))
        # Rename one module folder.
        mods = sorted({f.split("/")[3] for f in lang_files if f.count("/") >= 4})
        if mods and p != moved_proj:
            m = rng.choice(mods)
            old = P(f"projects/{p}/src/{m}")
            new = P(f"projects/{p}/src/{m}_core")
            if os.path.isdir(old) and not os.path.exists(new):
                stats["renamed"] += sum(len(fs) for _, _, fs in os.walk(old))
                os.rename(old, new)
    if moved_proj:
        os.makedirs(P("projects/archived"), exist_ok=True)
        stats["renamed"] += sum(len(fs) for _, _, fs in os.walk(P(f"projects/{moved_proj}")))
        os.rename(P(f"projects/{moved_proj}"), P(f"projects/archived/{moved_proj}"))

    # 5. Documents, Desktop, Downloads, Mail, .config: edits, renames, deletions, new files.
    docs = [f for t in ("Documents", "Desktop", "Downloads", "Mail", ".config") for f in by_top.get(t, [])]
    for rel in docs:
        if not os.path.exists(P(rel)):
            continue
        ext = rel.rpartition(".")[2]
        r = rng.random()
        if r < 0.04:
            size = os.path.getsize(P(rel))
            if ext in ("docx", "xlsx", "pptx", "odt", "pdf"):
                # Saving an office document rewrites the whole (compressed) file.
                data = gen_binary(rng, ext, max(1024, int(size * rng.uniform(0.9, 1.2))))
                with open(P(rel), "wb") as f:
                    f.write(data)
                changed += len(data)
            else:
                with open(P(rel), "rb") as f:
                    data = f.read()
                at = rng.randrange(len(data) + 1)
                ins = (" ".join(rng.choices(pools.sentences, k=rng.randint(2, 20))) + "\n").encode()
                n_del = rng.randint(0, min(2000, len(data) - at))
                data = data[:at] + ins + data[at + n_del:]
                with open(P(rel), "wb") as f:
                    f.write(data)
                changed += len(ins) + n_del
            stats["modified"] += 1
        elif r < 0.065:
            stem, dot, e = rel.rpartition(".")
            if rel.startswith("Mail/Inbox/"):
                rename(rel, "Mail/Archive/2025/" + rel.rsplit("/", 1)[1])
            elif dot:
                rename(rel, f"{stem} ({rng.choice(('final', 'old', 'signed', 'rev 2', 'copy'))}).{e}")
        elif r < 0.075:
            delete(rel)
    for i in range(max(1, round(400 * scale))):
        ext = rng.choice(DOC_EXT)
        size = log_uniform(rng, 1 * KiB, 64 * KiB, 1.25)
        kind = {"txt": "prose", "md": "prose_md", "csv": "csv"}.get(ext)
        data = gen_binary(rng, ext, size) if kind is None else (
            gen_prose(rng, pools, size, md=(ext == "md")) if kind != "csv" else gen_csv(rng, pools, size))
        new_file(f"Documents/{rng.choice(DOC_DIRS)}/2026/{doc_name(rng, ext)}", data)
    for i in range(max(1, round(300 * scale))):
        new_file(f"Mail/Inbox/{rng.getrandbits(40):010x}.eml", gen_mail(rng, pools, log_uniform(rng, 1500, 60000, 1.5)))

    with open(os.path.join(out, VERSION_FILE), "w") as f:
        f.write(version_line(2, seed, scale))
    files_after = list_files(out)
    total_after = sum(os.path.getsize(os.path.join(out, f)) for f in files_after)
    touched = sum(stats.values())
    print(
        f"corpus v2: {touched} files touched ({stats['modified']} modified, {stats['new']} new, "
        f"{stats['deleted']} deleted, {stats['renamed']} renamed/moved); ~{(changed + deleted_bytes) / MiB:.1f} MiB changed "
        f"({100 * (changed + deleted_bytes) / max(1, total_before):.1f}% of v1: {changed / MiB:.1f} MiB written, "
        f"{deleted_bytes / MiB:.1f} MiB deleted); now {len(files_after)} files, {total_after} bytes "
        f"({total_after / MiB:.1f} MiB) [{time.monotonic() - t0:.1f}s]"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="Deterministic backup-benchmark corpus.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, help_ in (("generate", "create version 1 in OUT"), ("edit", "turn version 1 in OUT into version 2")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--seed", type=int, default=42)
        p.add_argument("--scale", type=float, default=1.0)
        p.add_argument("out", metavar="OUT")
    args = ap.parse_args()
    if args.scale <= 0:
        ap.error("--scale must be positive")
    if args.cmd == "generate":
        generate(args.seed, args.scale, args.out)
    else:
        edit(args.seed, args.scale, args.out)


if __name__ == "__main__":
    main()
