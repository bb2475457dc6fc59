"""Text for synthetic lines: dictionary words, receipt vocabulary, and generators for the strings
documents are full of (prices, dates, times, codes, phone numbers, addresses, punctuation).

Every generator takes a ``random.Random`` so a seed reproduces the same text.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

WORDS_FILE = Path("/usr/share/dict/words")  # Debian package wamerican
SYMBOLS = "€£¥°±×÷•“”‘’–—©®™§¢µ"
CURRENCIES = ["RM", "RM ", "$", "USD ", "€", "£", "¥", "EUR ", "S$", ""]
STREETS = ["Jalan", "Jln", "Street", "Road", "Lorong"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
RECEIPT_WORDS = [
    "TOTAL",
    "SUBTOTAL",
    "Sub-Total",
    "GST",
    "SST",
    "TAX",
    "Tax",
    "Invoice",
    "INVOICE",
    "Receipt",
    "Cash",
    "CASH",
    "Change",
    "CHANGE",
    "Qty",
    "QTY",
    "Price",
    "Amount",
    "Amt",
    "Disc",
    "Discount",
    "Rounding",
    "ROUNDING",
    "Adj",
    "Item",
    "Description",
    "Tel",
    "Fax",
    "No.",
    "Date",
    "Time",
    "Cashier",
    "Member",
    "Points",
    "Balance",
    "Paid",
    "Tender",
    "VISA",
    "MasterCard",
    "Debit",
    "Credit",
    "Card",
    "Thank",
    "you",
    "Please",
    "come",
    "again",
    "Sdn",
    "Bhd",
    "Enterprise",
    "Trading",
    "Store",
    "Mart",
    "Restaurant",
    "Cafe",
    "Jalan",
    "Taman",
    "Street",
    "Road",
    "Ave",
    "Suite",
    "Floor",
    "Lot",
    "Unit",
    "Level",
    "Block",
    "Kg",
    "g",
    "ml",
    "L",
    "pcs",
    "EA",
    "Nos",
    "Total",
    "Incl.",
    "Excl.",
    "Net",
    "Gross",
    "Bill",
    "Table",
    "Order",
    "Server",
    "Guest",
]


@lru_cache(maxsize=1)
def dictionary_words() -> tuple[str, ...]:
    if WORDS_FILE.is_file():
        words = [w.strip() for w in WORDS_FILE.read_text(encoding="utf-8", errors="ignore").splitlines()]
        words = [w for w in words if w and w.isascii() and "'" not in w]
        if words:
            return tuple(words)
    return tuple(RECEIPT_WORDS)


FREQUENT_WORDS = 20000
FREQUENCY_POWER = 0.7


@lru_cache(maxsize=1)
def frequent_words() -> tuple[tuple[str, ...], tuple[float, ...]]:
    """``(words, cumulative weights)``: the most frequent English words (``wordfreq``), alphabetic
    only, weighted by frequency^``FREQUENCY_POWER`` (the top words stay common without drowning the rest).

    Why: the dictionary draws words uniformly, so a sign in training says "zygote" as often as "of";
    real signs, covers and packaging say "of", "to", "sale", "open" all the time, and a reader that
    rarely saw those short words guesses them from their shapes alone (of -> 0f, TO -> T0).
    Empty without ``wordfreq`` (the caller falls back to the dictionary)."""
    try:
        from wordfreq import top_n_list, word_frequency
    except ImportError:
        return (), ()
    words = tuple(w for w in top_n_list("en", FREQUENT_WORDS) if w.isascii() and w.isalpha())
    cum, total = [], 0.0
    for w in words:
        total += word_frequency(w, "en") ** FREQUENCY_POWER
        cum.append(total)
    return words, tuple(cum)


def frequent_word(rng: random.Random) -> str:
    """One word drawn by :func:`frequent_words`' weights, or from the dictionary without them."""
    words, cum = frequent_words()
    if not words:
        return rng.choice(dictionary_words())
    return rng.choices(words, cum_weights=cum)[0]


@lru_cache(maxsize=4)
def corpus_lines(path: str) -> tuple[str, ...]:
    """Text of a ``lines.jsonl`` file (sroie-train): real receipt vocabulary, rendered in new fonts."""
    p = Path(path)
    if not p.is_file():
        return ()
    out = []
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line).get("text", "").strip()
            if text:
                out.append(text)
    return tuple(out)


def _case(rng: random.Random, s: str) -> str:
    # Capitals are a minority of real document text: too many all-caps lines (1.1.0 drew about a
    # third of its synthetic lines in capitals) taught the network to shout on real scans.
    r = rng.random()
    if r < 0.12:
        return s.upper()
    if r < 0.27:
        return s.lower()
    if r < 0.5:
        return s.title()
    return s


def _recase_upper(rng: random.Random, s: str) -> str:
    """An upper-case-only label (SROIE's convention) in the case a document would print it."""
    r = rng.random()
    if r < 0.3:
        return s
    if r < 0.65:
        return s.title()
    if r < 0.85:
        return s.capitalize()
    return s.lower()


def word(rng: random.Random) -> str:
    w = rng.choice(dictionary_words()) if rng.random() < 0.85 else rng.choice(RECEIPT_WORDS)
    return _case(rng, w) if rng.random() < 0.4 else w


def number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return str(rng.randint(0, 99))
    if r < 0.6:
        return str(rng.randint(100, 999999))
    if r < 0.8:
        return f"{rng.uniform(0, 1000):.2f}"
    return f"{rng.randint(1, 99)}{rng.choice(['', 'x', ' x ', '@', 'kg', 'pcs', '%'])}"


def price(rng: random.Random) -> str:
    value = rng.choice([rng.uniform(0, 20), rng.uniform(0, 200), rng.uniform(0, 20000)])
    amount = f"{value:,.2f}" if rng.random() < 0.3 else f"{value:.2f}"
    if rng.random() < 0.1:
        amount = "-" + amount
    return f"{rng.choice(CURRENCIES)}{amount}"


def date(rng: random.Random) -> str:
    d, m, y = rng.randint(1, 31), rng.randint(1, 12), rng.randint(1990, 2030)
    fmt = rng.choice(
        [
            f"{d:02d}/{m:02d}/{y}",
            f"{d:02d}-{m:02d}-{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d} {MONTHS[m - 1]} {y}",
            f"{d:02d}.{m:02d}.{y % 100:02d}",
            f"{MONTHS[m - 1].upper()} {d}, {y}",
            f"{m}/{d}/{y % 100:02d}",
        ]
    )
    return fmt


def time_(rng: random.Random) -> str:
    h, m, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice(
        [
            f"{h:02d}:{m:02d}",
            f"{h:02d}:{m:02d}:{s:02d}",
            f"{h % 12 or 12}:{m:02d} {rng.choice(['AM', 'PM', 'am', 'pm'])}",
            f"{h % 12 or 12}:{m:02d}{rng.choice(['AM', 'PM'])}",
        ]
    )


def code(rng: random.Random) -> str:
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(1, 4)))
    digits = "".join(rng.choice(string.digits) for _ in range(rng.randint(3, 12)))
    sep = rng.choice(["", "-", "/", "#", ": ", " "])
    prefix = rng.choice(["", "INV", "No", "Ref", "GST ID", "Reg No", "Doc", "Bill", "TRN", "SN", "Order #"])
    body = f"{letters}{sep}{digits}"
    return f"{prefix}{rng.choice([': ', ' ', ':', '.'])}{body}" if prefix else body


def phone(rng: random.Random) -> str:
    area = rng.randint(1, 99)
    return (
        f"{rng.choice(['TEL', 'Tel', 'FAX', 'Fax', 'Phone', 'H/P', 'T'])}{rng.choice([':', ': ', ' ', '. '])}"
        f"{area:02d}-{rng.randint(1000000, 99999999)}"
    )


def address(rng: random.Random) -> str:
    street = word(rng).title()
    return rng.choice(
        [
            f"{rng.randint(1, 999)}, {rng.choice(STREETS)} {street} {rng.randint(1, 30)},",
            f"{rng.randint(10000, 99999)} {street.upper()}, {word(rng).upper()}.",
            f"No. {rng.randint(1, 200)}, {street} {rng.choice(['Ave', 'St.', 'Blvd', 'Lane'])}",
            f"Lot {rng.randint(1, 9999)}-{rng.randint(1, 99)}, {street} {rng.choice(['Plaza', 'Centre', 'Mall'])}",
        ]
    )


def item_line(rng: random.Random) -> str:
    name = " ".join(word(rng) for _ in range(rng.randint(1, 3)))
    qty = rng.randint(1, 12)
    unit = rng.uniform(0.5, 99)
    return rng.choice(
        [
            f"{name} {qty} x {unit:.2f} {qty * unit:.2f}",
            f"{qty} {name.upper()} {qty * unit:.2f}",
            f"{name}  {price(rng)}",
            f"{qty}x {name} @{unit:.2f}",
        ]
    )


def punct_line(rng: random.Random) -> str:
    pool = string.ascii_letters + string.digits + string.punctuation + SYMBOLS + "     "
    return "".join(rng.choice(pool) for _ in range(rng.randint(3, 24))).strip() or "*"


def symbols_line(rng: random.Random) -> str:
    parts = [
        rng.choice(SYMBOLS) + number(rng),
        word(rng),
        f"{rng.randint(-40, 45)}°C",
        f"±{rng.randint(1, 9)}",
        f"{rng.randint(2, 9)} × {rng.randint(2, 9)}",
        f"“{word(rng)}”",
        f"‘{word(rng)}’",
        "•",
        "–",
        "—",
        f"{word(rng)}™",
        f"© {rng.randint(1990, 2030)}",
        f"{rng.randint(1, 9)} ÷ {rng.randint(1, 9)}",
    ]
    rng.shuffle(parts)
    return " ".join(parts[: rng.randint(2, 5)])


def sentence(rng: random.Random) -> str:
    n = rng.randint(1, 7)
    parts = []
    for _ in range(n):
        r = rng.random()
        parts.append(word(rng) if r < 0.7 else number(rng) if r < 0.85 else rng.choice(list("-:/&,.()#*=+")))
    s = " ".join(parts)
    if rng.random() < 0.3:
        s += rng.choice([".", ",", ":", "!", "?", ";"])
    if rng.random() < 0.08:
        s = s.upper()
    return s


GENERATORS: list[tuple[float, Callable[[random.Random], str]]] = [
    (0.30, sentence),
    (0.08, price),
    (0.06, date),
    (0.05, time_),
    (0.07, code),
    (0.04, phone),
    (0.07, address),
    (0.10, item_line),
    (0.06, punct_line),
    (0.04, symbols_line),
    (0.05, number),
    (0.08, word),
]


def random_text(rng: random.Random, corpus: tuple[str, ...] = (), corpus_share: float = 0.25, max_len: int = 48) -> str:
    """One line of text; ``corpus`` lines (real receipt text) are used for ``corpus_share`` of them,
    in their own case or re-cased, so the network learns the vocabulary without learning to shout."""
    if corpus and rng.random() < corpus_share:
        text = rng.choice(corpus)
        text = _recase_upper(rng, text) if text.isupper() else _case(rng, text)
    else:
        r, acc = rng.random() * sum(w for w, _ in GENERATORS), 0.0
        gen = GENERATORS[-1][1]
        for weight, g in GENERATORS:
            acc += weight
            if r <= acc:
                gen = g
                break
        text = gen(rng)
        if rng.random() < 0.15:  # two fields on one line, as receipts print them
            text = f"{text}{' ' * rng.randint(1, 4)}{rng.choice(GENERATORS)[1](rng)}"
    text = " ".join(text.split())
    if len(text) > max_len:
        start = rng.randint(0, len(text) - max_len)
        text = text[start : start + max_len].strip()
    return text or "0"
